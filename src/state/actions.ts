// Every change an operator can make, from any front end, as data. The daemon executes them in one place
// and logs each with who asked for it.

export type Role = "viewer" | "admin";

export interface Actor {
  /** e.g. "admin@ssh:192.0.2.50", "console:ttyS0", "api:token-ops" */
  readonly who: string;
  readonly role: Role;
}

export type OperatorAction =
  | { readonly kind: "drain"; readonly service: string; readonly real: string }
  | { readonly kind: "enable"; readonly service: string; readonly real: string }
  | { readonly kind: "weight"; readonly service: string; readonly real: string; readonly weight: number }
  /** Drop this box's VRRP priority (0 = give up mastership now) until released. */
  | { readonly kind: "failover"; readonly instance: string; readonly priority: number }
  | { readonly kind: "failback"; readonly instance: string }
  /** First a dry run that returns the diff; then the same with confirm = true applies it. */
  | { readonly kind: "reload"; readonly confirm: boolean }
  | { readonly kind: "update"; readonly source: string; readonly force: boolean }
  | { readonly kind: "reboot" };

export interface ActionResult {
  readonly ok: boolean;
  /** One line for the operator: what happened, or why not. */
  readonly message: string;
  /** For reload dry runs: the diff to show before confirming. */
  readonly diff?: readonly string[];
}

export interface ActionHandler {
  perform(actor: Actor, action: OperatorAction): Promise<ActionResult>;
  /**
   * An update artifact sent in the request body (management API). Audited like the `update` action;
   * answers once the artifact has been received and checked (or refused), before the slot is written.
   */
  upload?(actor: Actor, body: ReadableStream<Uint8Array>, force: boolean): Promise<ActionResult>;
}

/** Viewers may look; only admins may change anything. */
export function actionAllowed(role: Role, _action: OperatorAction): boolean {
  return role === "admin";
}

/** One line an operator reads: "drain web 10.0.0.2:80". */
export function describeAction(action: OperatorAction): string {
  switch (action.kind) {
    case "drain":
    case "enable":
      return `${action.kind} ${action.service} ${action.real}`;
    case "weight":
      return `weight ${action.service} ${action.real} ${action.weight}`;
    case "failover":
      return `failover ${action.instance} priority ${action.priority}`;
    case "failback":
      return `failback ${action.instance}`;
    case "reload":
      return action.confirm ? "reload" : "reload (dry run)";
    case "update":
      return `update ${action.source}${action.force ? " (force)" : ""}`;
    case "reboot":
      return "reboot";
  }
}

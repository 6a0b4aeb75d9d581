// Carries out operator actions from every front end (TUI, SSH CLI, management API) in one place and
// logs each with who asked. Names arrive canonical (the console resolves them): the service's name and
// the real server as ADDR:PORT.
import type { HealthEngine } from "../health/engine.ts";
import type { EventBus } from "../log/events.ts";
import type { ActionHandler, ActionResult, Actor, OperatorAction } from "../state/actions.ts";
import { actionAllowed, describeAction } from "../state/actions.ts";

export interface ActionTargets {
  readonly health: HealthEngine;
  /** Priority override for a VRRP instance (null clears it); resign = send priority 0 now. */
  readonly vrrpAdmin: (instance: string, priority: number | null, resign: boolean) => boolean;
  /** Dry run (confirm false) returns the diff; confirm true applies it. */
  readonly reload: (confirm: boolean) => Promise<ActionResult>;
  /** Only on the box (PID 1); elsewhere the daemon refuses. */
  readonly reboot: ((reason: string) => void) | null;
  /** Starts applying a signed update; resolves once it is accepted (verified) or refused. */
  readonly update: (
    source: string | { stream: ReadableStream<Uint8Array>; label: string },
    force: boolean,
    who: string,
  ) => Promise<ActionResult>;
}

export class DaemonActions implements ActionHandler {
  constructor(
    private readonly targets: ActionTargets,
    private readonly events: EventBus,
  ) {}

  async perform(actor: Actor, action: OperatorAction): Promise<ActionResult> {
    const result = actionAllowed(actor.role, action)
      ? await this.run(actor, action)
      : { ok: false, message: `${actor.who} (${actor.role}) may not ${action.kind}` };
    this.audit(actor, action, result);
    return result;
  }

  async upload(actor: Actor, body: ReadableStream<Uint8Array>, force: boolean): Promise<ActionResult> {
    const action: OperatorAction = { kind: "update", source: "(uploaded artifact)", force };
    const result = actionAllowed(actor.role, action)
      ? await this.targets.update({ stream: body, label: `upload from ${actor.who}` }, force, actor.who)
      : { ok: false, message: `${actor.who} (${actor.role}) may not ${action.kind}` };
    this.audit(actor, action, result);
    return result;
  }

  private audit(actor: Actor, action: OperatorAction, result: ActionResult): void {
    this.events.emit({
      event: "operator.action",
      reason: `${actor.who}: ${describeAction(action)}: ${result.message}`,
      who: actor.who,
      role: actor.role,
      action,
      ok: result.ok,
    });
  }

  private async run(actor: Actor, a: OperatorAction): Promise<ActionResult> {
    const h = this.targets.health;
    switch (a.kind) {
      case "drain":
        return intent(h.drain(a.service, a.real), `draining ${a.real} in ${a.service}`);
      case "enable":
        return intent(h.enable(a.service, a.real), `${a.real} in ${a.service} enabled`);
      case "weight":
        return intent(
          h.setWeight(a.service, a.real, a.weight),
          `${a.real} in ${a.service} weight ${a.weight}`,
        );
      case "failover": {
        // Priority 0 means "give up mastership now": resign (an advert with priority 0) and stay at the lowest
        // priority so a preempting backup keeps the VIPs; otherwise just lower the priority.
        const resign = a.priority === 0;
        const ok = this.targets.vrrpAdmin(a.instance, resign ? 1 : a.priority, resign);
        return ok
          ? { ok, message: `${a.instance}: priority forced to ${a.priority}` }
          : { ok, message: `no VRRP instance ${a.instance}` };
      }
      case "failback": {
        const ok = this.targets.vrrpAdmin(a.instance, null, false);
        return ok
          ? { ok, message: `${a.instance}: configured priority restored` }
          : { ok, message: `no VRRP instance ${a.instance}` };
      }
      case "reload":
        return this.targets.reload(a.confirm);
      case "update":
        return this.targets.update(a.source, a.force, actor.who);
      case "reboot":
        if (this.targets.reboot === null) return { ok: false, message: "reboot is only possible on the box" };
        this.targets.reboot(`requested by ${actor.who}`);
        return { ok: true, message: "rebooting" };
    }
  }
}

function intent(r: { ok: true } | { ok: false; reason: string }, done: string): ActionResult {
  return r.ok ? { ok: true, message: done } : { ok: false, message: r.reason };
}

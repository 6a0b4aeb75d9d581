// The one path by which every console front end (TUI, SSH CLI, management API) changes the box: the role
// is checked here as well as in the handler, and every attempt is logged with who made it, allowed or not.
import type { Logger } from "pino";
import {
  type ActionHandler,
  type ActionResult,
  type Actor,
  actionAllowed,
  describeAction,
  type OperatorAction,
} from "../state/actions.ts";

export { describeAction };

export async function performAudited(
  handler: ActionHandler,
  actor: Actor,
  action: OperatorAction,
  log: Logger,
): Promise<ActionResult> {
  if (!actionAllowed(actor.role, action)) {
    const message = `permission denied: '${action.kind}' needs the admin role (${actor.who} is ${actor.role})`;
    log.warn(
      { event: "console.action", who: actor.who, role: actor.role, action, ok: false, denied: true },
      message,
    );
    return { ok: false, message };
  }
  let result: ActionResult;
  try {
    result = await handler.perform(actor, action);
  } catch (err) {
    // A handler that throws is a bug elsewhere; the operator still gets one line and the console lives on.
    result = { ok: false, message: `action failed: ${err instanceof Error ? err.message : String(err)}` };
    log.error({ event: "console.action_error", who: actor.who, action, err }, "action handler threw");
  }
  log.info(
    {
      event: "console.action",
      who: actor.who,
      role: actor.role,
      action,
      ok: result.ok,
      result: result.message,
    },
    `${actor.who}: ${describeAction(action)}: ${result.message}`,
  );
  return result;
}

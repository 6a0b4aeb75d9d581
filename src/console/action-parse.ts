// OperatorActions from untrusted input (management API bodies): checked field by field, with one clear
// error instead of a thrown exception or a half-valid action reaching the handler.
import type { OperatorAction } from "../state/actions.ts";

export type ParsedAction =
  | { readonly ok: true; readonly action: OperatorAction }
  | { readonly ok: false; readonly error: string };

export const MAX_NAME_LENGTH = 256;
export const MAX_WEIGHT = 65_535;
/** VRRP priorities an operator may drop to: 0 gives up mastership at once; 255 belongs to the address owner. */
export const MAX_FAILOVER_PRIORITY = 254;

export function parseAction(input: unknown): ParsedAction {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, error: "action must be a JSON object with a 'kind'" };
  }
  const o = input as Record<string, unknown>;
  try {
    switch (o["kind"]) {
      case "drain":
      case "enable":
        return { ok: true, action: { kind: o["kind"], service: name(o, "service"), real: name(o, "real") } };
      case "weight":
        return {
          ok: true,
          action: {
            kind: "weight",
            service: name(o, "service"),
            real: name(o, "real"),
            weight: int(o, "weight", 0, MAX_WEIGHT),
          },
        };
      case "failover":
        return {
          ok: true,
          action: {
            kind: "failover",
            instance: name(o, "instance"),
            priority: o["priority"] === undefined ? 0 : int(o, "priority", 0, MAX_FAILOVER_PRIORITY),
          },
        };
      case "failback":
        return { ok: true, action: { kind: "failback", instance: name(o, "instance") } };
      case "reload":
        return { ok: true, action: { kind: "reload", confirm: bool(o, "confirm", false) } };
      case "update":
        return {
          ok: true,
          action: { kind: "update", source: name(o, "source"), force: bool(o, "force", false) },
        };
      case "reboot":
        return { ok: true, action: { kind: "reboot" } };
      default:
        return {
          ok: false,
          error:
            "unknown action kind; expected drain, enable, weight, failover, failback, reload, update or reboot",
        };
    }
  } catch (err) {
    if (err instanceof ActionFieldError) return { ok: false, error: err.message };
    throw err;
  }
}

class ActionFieldError extends Error {}

function name(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== "string" || v.length === 0)
    throw new ActionFieldError(`'${field}' must be a non-empty string`);
  if (v.length > MAX_NAME_LENGTH)
    throw new ActionFieldError(`'${field}' is longer than ${MAX_NAME_LENGTH} characters`);
  return v;
}

function int(o: Record<string, unknown>, field: string, min: number, max: number): number {
  const v = o[field];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ActionFieldError(`'${field}' must be an integer from ${min} to ${max}`);
  }
  return v;
}

function bool(o: Record<string, unknown>, field: string, fallback: boolean): boolean {
  const v = o[field];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new ActionFieldError(`'${field}' must be true or false`);
  return v;
}

/** Parses an operator-typed integer ("0", "100") within bounds; null when it is not one. */
export function parseBoundedInt(text: string, min: number, max: number): number | null {
  if (!/^\d{1,6}$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return n >= min && n <= max ? n : null;
}

// What the box remembers about updates, on the data partition (survives updates and rollbacks):
// the anti-rollback floor, the update waiting for its first boot, and the last outcome. Transitions
// are pure; reading and writing the file is at the end of this module.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileDurably } from "../system/durable.ts";
import { isVersion, maxVersion } from "./version.ts";

export const RECORD_FILE = "update/state.json";
const MAX_RECORD_BYTES = 64 * 1024;

export interface PendingUpdate {
  readonly from: string;
  readonly to: string;
  /** The slot written ("A" or "B") and the UKI entry made for it. */
  readonly slot: string;
  readonly entry: string;
  readonly atIso: string;
  readonly forced: boolean;
}

export interface LastOutcome {
  readonly result: "committed" | "rolled-back" | "failed";
  readonly version: string;
  readonly atIso: string;
  readonly message: string;
}

export interface UpdateRecord {
  /** Anti-rollback: the newest release ever committed on this box. */
  readonly floor: string | undefined;
  readonly pending: PendingUpdate | undefined;
  readonly last: LastOutcome | undefined;
}

export const EMPTY_RECORD: UpdateRecord = { floor: undefined, pending: undefined, last: undefined };

/** What a boot finds when it compares the record with the release it runs. */
export type BootFinding =
  | { readonly kind: "normal" }
  /** The first boot(s) of a freshly written slot: not committed until it has been healthy a while. */
  | { readonly kind: "trying"; readonly pending: PendingUpdate }
  /** The boot loader fell back: the update failed and the old release runs again. */
  | { readonly kind: "rolled-back"; readonly pending: PendingUpdate; readonly message: string }
  /** Neither the old nor the new release: the record no longer describes this box. */
  | { readonly kind: "stale"; readonly pending: PendingUpdate; readonly message: string };

export function onBoot(
  record: UpdateRecord,
  running: string,
  nowIso: string,
): { record: UpdateRecord; finding: BootFinding } {
  const p = record.pending;
  if (p === undefined) return { record, finding: { kind: "normal" } };
  if (running === p.to) return { record, finding: { kind: "trying", pending: p } };
  if (running === p.from) {
    const message = `the update to ${p.to} failed (it did not become healthy within its boot tries), running ${p.from} again`;
    return {
      record: {
        ...record,
        pending: undefined,
        last: { result: "rolled-back", version: p.to, atIso: nowIso, message },
      },
      finding: { kind: "rolled-back", pending: p, message },
    };
  }
  const message = `update record named ${p.from} -> ${p.to} but ${running} is running; record cleared`;
  return { record: { ...record, pending: undefined }, finding: { kind: "stale", pending: p, message } };
}

export function onWritten(record: UpdateRecord, pending: PendingUpdate): UpdateRecord {
  return { ...record, pending };
}

/** The running release proved healthy and was blessed: it becomes the floor unless it was a forced downgrade. */
export function onCommitted(record: UpdateRecord, running: string, nowIso: string): UpdateRecord {
  const p = record.pending;
  const floor = record.floor === undefined ? running : maxVersion(record.floor, running);
  const last: LastOutcome | undefined =
    p !== undefined && p.to === running
      ? {
          result: "committed",
          version: running,
          atIso: nowIso,
          message: `update ${p.from} -> ${running} committed`,
        }
      : record.last;
  return { floor, pending: p?.to === running ? undefined : p, last };
}

export function onFailed(
  record: UpdateRecord,
  version: string,
  nowIso: string,
  message: string,
): UpdateRecord {
  return { ...record, last: { result: "failed", version, atIso: nowIso, message } };
}

/** Parses the file; anything malformed yields the empty record and a reason (never throws). Pure. */
export function parseRecord(text: string): { record: UpdateRecord; problem?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { record: EMPTY_RECORD, problem: `update record is not JSON: ${String(err)}` };
  }
  const o = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const floor = typeof o["floor"] === "string" && isVersion(o["floor"]) ? o["floor"] : undefined;
  const str = (x: Record<string, unknown>, k: string) =>
    typeof x[k] === "string" ? (x[k] as string) : undefined;
  let pending: PendingUpdate | undefined;
  const p = o["pending"];
  if (typeof p === "object" && p !== null) {
    const q = p as Record<string, unknown>;
    const from = str(q, "from");
    const to = str(q, "to");
    if (from !== undefined && to !== undefined)
      pending = {
        from,
        to,
        slot: str(q, "slot") ?? "?",
        entry: str(q, "entry") ?? "",
        atIso: str(q, "atIso") ?? "",
        forced: q["forced"] === true,
      };
  }
  let last: LastOutcome | undefined;
  const l = o["last"];
  if (typeof l === "object" && l !== null) {
    const q = l as Record<string, unknown>;
    const result = q["result"];
    if (result === "committed" || result === "rolled-back" || result === "failed")
      last = {
        result,
        version: str(q, "version") ?? "?",
        atIso: str(q, "atIso") ?? "",
        message: str(q, "message") ?? "",
      };
  }
  return { record: { floor, pending, last } };
}

export function readRecord(path: string): { record: UpdateRecord; problem?: string } {
  if (!existsSync(path)) return { record: EMPTY_RECORD };
  try {
    const text = readFileSync(path, "utf8");
    if (text.length > MAX_RECORD_BYTES)
      return { record: EMPTY_RECORD, problem: "update record is too large; ignored" };
    return parseRecord(text);
  } catch (err) {
    return { record: EMPTY_RECORD, problem: `cannot read ${path}: ${String(err)}` };
  }
}

/** Atomic, durable replace: a power cut leaves the old or the new record, never half. */
export function writeRecord(path: string, record: UpdateRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileDurably(path, `${JSON.stringify(record, null, 2)}\n`);
}

// Resuming mastership across a restart of the daemon (kill -9, a crash; PID 1 starts it again at once).
// The kernel keeps the VIPs and the IPVS table while no process runs, so traffic goes on; if the new run
// starts as a backup (deleting the VIPs) the peer's down timer fires and the VIPs move twice. The running
// daemon therefore records which instances are master, with a heartbeat, on /run (gone at reboot); a new
// run resumes an instance as master only when the record is younger than that instance's
// Master_Down_Interval, i.e. no backup can have taken over yet. A record from a clean stop lists no master.
// Pure: the daemon owns the file.
import { masterDownMs } from "./timing.ts";
import type { SyncGroupSpec, VrrpInstanceSpec } from "./types.ts";

/** Name of the record in the daemon's state directory (/run/fulcrum). */
export const MASTERS_FILE = "vrrp-masters.json";
/** How often a master's record is refreshed: the record may be this much older than the last advert. */
export const HEARTBEAT_MS = 250;
const MAX_NAMES = 1024;

export interface MastersRecord {
  /** Wall-clock time the instances were last known to be master (Date.now()). */
  readonly heartbeatMs: number;
  readonly masters: readonly string[];
}

export function encodeMasters(r: MastersRecord): string {
  return `${JSON.stringify({ heartbeatMs: r.heartbeatMs, masters: r.masters })}\n`;
}

/** Parses a record; anything malformed is "no record" (a fresh start, never a wrong resume). */
export function parseMasters(text: string): MastersRecord | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const { heartbeatMs, masters } = raw as { heartbeatMs?: unknown; masters?: unknown };
  if (typeof heartbeatMs !== "number" || !Number.isFinite(heartbeatMs)) return null;
  if (!Array.isArray(masters) || masters.length > MAX_NAMES) return null;
  if (!masters.every((m): m is string => typeof m === "string")) return null;
  return { heartbeatMs, masters };
}

/**
 * Instances to start as master: recorded as master, the record younger than their Master_Down_Interval
 * (computed for their own priority: a lower-priority backup waits longer, so this errs towards a fresh
 * start), and, for a sync group, every member resumable (a group moves as one or not at all).
 */
export function resumableMasters(
  record: MastersRecord | null,
  specs: readonly VrrpInstanceSpec[],
  groups: readonly SyncGroupSpec[],
  nowMs: number,
): string[] {
  if (record === null) return [];
  const ageMs = nowMs - record.heartbeatMs;
  if (ageMs < 0) return []; // the clock went back: we cannot tell how long we were away
  const ok = new Set(
    specs
      .filter((s) => record.masters.includes(s.name))
      .filter((s) => ageMs < masterDownMs(s.version, s.priority, s.advertIntervalCs))
      .map((s) => s.name),
  );
  for (const g of groups) {
    if (!g.instances.every((m) => ok.has(m))) for (const m of g.instances) ok.delete(m);
  }
  return specs.filter((s) => ok.has(s.name)).map((s) => s.name);
}

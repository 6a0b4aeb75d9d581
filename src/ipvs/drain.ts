// Draining a real server, pure: weight 0 first (no new connections), removal once its active and
// inactive connections reach zero or the drain timeout passes, whichever comes first.
import type { DestKey, KernelService, ServiceKey } from "./model.ts";
import { ownedDestKey } from "./reconcile.ts";

export interface Drain {
  readonly service: ServiceKey;
  readonly dest: DestKey;
  readonly startedAtMs: number;
  readonly deadlineMs: number;
}

export interface DrainFinished {
  readonly drain: Drain;
  readonly reason: "idle" | "timeout" | "gone";
  readonly activeConns: number;
  readonly inactiveConns: number;
}

export interface DrainStep {
  readonly drains: ReadonlyMap<string, Drain>;
  readonly finished: readonly DrainFinished[];
  /** When the caller should look again even if nothing happens (the nearest deadline), or null. */
  readonly wakeAtMs: number | null;
}

/** Bound on drains in progress: one per real server of a large table, never unbounded. */
export const MAX_DRAINS = 100_000;

export function startDrain(
  drains: ReadonlyMap<string, Drain>,
  service: ServiceKey,
  dest: DestKey,
  nowMs: number,
  timeoutMs: number,
): ReadonlyMap<string, Drain> {
  if (timeoutMs < 0) throw new Error("startDrain: negative timeout");
  const id = ownedDestKey(service, dest);
  if (drains.has(id)) return drains; // draining again does not restart the clock
  if (drains.size >= MAX_DRAINS) throw new Error(`startDrain: more than ${MAX_DRAINS} drains in progress`);
  const next = new Map(drains);
  next.set(id, { service, dest, startedAtMs: nowMs, deadlineMs: nowMs + timeoutMs });
  return next;
}

export function cancelDrain(drains: ReadonlyMap<string, Drain>, service: ServiceKey, dest: DestKey) {
  const id = ownedDestKey(service, dest);
  if (!drains.has(id)) return drains;
  const next = new Map(drains);
  next.delete(id);
  return next;
}

/** Look at the kernel's connection counters and finish the drains that are done. */
export function stepDrains(
  drains: ReadonlyMap<string, Drain>,
  kernel: readonly KernelService[],
  nowMs: number,
): DrainStep {
  const counters = new Map<string, { active: number; inactive: number }>();
  for (const s of kernel) {
    for (const d of s.dests) {
      counters.set(ownedDestKey(s.key, d), { active: d.activeConns, inactive: d.inactiveConns });
    }
  }
  const remaining = new Map<string, Drain>();
  const finished: DrainFinished[] = [];
  let wakeAtMs: number | null = null;
  for (const [id, drain] of drains) {
    const c = counters.get(id);
    if (c === undefined) {
      finished.push({ drain, reason: "gone", activeConns: 0, inactiveConns: 0 });
    } else if (c.active === 0 && c.inactive === 0) {
      finished.push({ drain, reason: "idle", activeConns: 0, inactiveConns: 0 });
    } else if (nowMs >= drain.deadlineMs) {
      finished.push({ drain, reason: "timeout", activeConns: c.active, inactiveConns: c.inactive });
    } else {
      remaining.set(id, drain);
      wakeAtMs = wakeAtMs === null ? drain.deadlineMs : Math.min(wakeAtMs, drain.deadlineMs);
    }
  }
  return { drains: remaining, finished, wakeAtMs };
}

// What PID 1 does when the daemon process exits without being asked to: restart it, at once the first
// time (a restart quicker than VRRP's master-down interval keeps mastership without a flap), then with a
// growing delay; and when it keeps dying, reboot if this boot is still being counted by the boot loader
// (an update that crash-loops must use up its tries so the loader falls back to the previous slot), or
// keep retrying slowly if the slot was already proven good (rebooting into the same slot would not help).
// Pure: (state, exit, now) -> (state, decision).

export interface SupervisorLimits {
  /** Exits within this window count towards a crash loop. */
  readonly windowMs: number;
  /** This many exits within the window is a crash loop. */
  readonly crashLoopExits: number;
  /** Delay before the n-th restart within the window (the last entry repeats). */
  readonly backoffMs: readonly number[];
  /** Delay between restarts during a crash loop on a slot that is not being counted. */
  readonly crashLoopRetryMs: number;
}

export const DEFAULT_SUPERVISOR_LIMITS: SupervisorLimits = {
  windowMs: 60_000,
  crashLoopExits: 5,
  backoffMs: [0, 250, 1_000, 2_000],
  crashLoopRetryMs: 30_000,
};

export interface SupervisorState {
  /** Times of the most recent exits, oldest first; never more than crashLoopExits. */
  readonly exits: readonly number[];
  readonly restarts: number;
}

export interface DaemonExit {
  readonly atMs: number;
  readonly code: number | null;
  readonly signal: string | null;
  /** The boot loader still counts this boot's tries (an unblessed slot). */
  readonly bootCounted: boolean;
}

export type SupervisorDecision =
  | { readonly kind: "restart"; readonly delayMs: number; readonly reason: string }
  | { readonly kind: "reboot"; readonly reason: string };

export const INITIAL_SUPERVISOR_STATE: SupervisorState = { exits: [], restarts: 0 };

export function describeExit(exit: Pick<DaemonExit, "code" | "signal">): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with status ${exit.code ?? "?"}`;
}

export function onDaemonExit(
  state: SupervisorState,
  exit: DaemonExit,
  limits: SupervisorLimits = DEFAULT_SUPERVISOR_LIMITS,
): { state: SupervisorState; decision: SupervisorDecision } {
  assert(limits.crashLoopExits >= 1 && limits.backoffMs.length >= 1, "limits are usable");
  const recent = [...state.exits.filter((t) => exit.atMs - t < limits.windowMs), exit.atMs].slice(
    -limits.crashLoopExits,
  );
  const windowS = Math.round(limits.windowMs / 1000);
  const what = `the daemon ${describeExit(exit)}`;
  let decision: SupervisorDecision;
  if (recent.length >= limits.crashLoopExits && exit.bootCounted) {
    decision = {
      kind: "reboot",
      reason: `${what}: ${recent.length} exits within ${windowS} s on a boot that is not yet proven good; rebooting so the boot loader counts a failed try`,
    };
  } else if (recent.length >= limits.crashLoopExits) {
    decision = {
      kind: "restart",
      delayMs: limits.crashLoopRetryMs,
      reason: `${what}: ${recent.length} exits within ${windowS} s (crash loop); retrying every ${Math.round(limits.crashLoopRetryMs / 1000)} s`,
    };
  } else {
    const delayMs = limits.backoffMs[Math.min(recent.length - 1, limits.backoffMs.length - 1)] ?? 0;
    decision = {
      kind: "restart",
      delayMs,
      reason: `${what}; restarting it${delayMs > 0 ? ` in ${delayMs} ms` : ""} (exit ${recent.length} within ${windowS} s)`,
    };
  }
  const next = { exits: recent, restarts: state.restarts + (decision.kind === "restart" ? 1 : 0) };
  assert(next.exits.length <= limits.crashLoopExits, "bounded exit history");
  return { state: next, decision };
}

function assert(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`supervisor invariant violated: ${what}`);
}

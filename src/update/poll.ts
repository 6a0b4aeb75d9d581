// When to look for an update at `[update] url`, and what to do with what is found. Pure: a function of
// (state, input, now, random) -> (state, actions); the HTTP check, the apply and the timer are the
// edge's (src/update/poller.ts).
//
//   - The first check comes FIRST_CHECK_MS (+ jitter) after this boot is blessed (at once if the boot
//     was not on probation): a release on trial never pulls the next one. After a config reload that
//     sets or changes url/check_interval, the first check comes RELOAD_CHECK_MS (+ as much jitter)
//     later: the operator who just set it wants to see it work.
//   - Then one check every check_interval, +-10% jitter so a fleet does not hit the server in step.
//   - A failed check or apply is retried after 30 s, 60 s, 120 s ... (never longer than the interval),
//     at most MAX_RETRIES times in a row; then the regular interval again.
//   - A check that finds a newer release the policy allows applies it; the apply's own reboot policy
//     decides when the box reboots. Once an update waits for its reboot, checks stop.
//   - No check while an update runs (an operator's) or waits for its reboot.

export const FIRST_CHECK_MS = 60_000;
export const FIRST_CHECK_JITTER_MS = 60_000;
export const RELOAD_CHECK_MS = 10_000;
export const INTERVAL_JITTER = 0.1;
export const RETRY_BASE_MS = 30_000;
export const MAX_RETRIES = 5;

export type PollPhase = "off" | "waiting-for-bless" | "scheduled" | "checking" | "applying" | "done";

export interface PollState {
  readonly phase: PollPhase;
  /** When the next check is due (phase "scheduled"). */
  readonly dueMs: number | undefined;
  /** Failed checks or applies in a row (a check that answers resets it). */
  readonly failures: number;
}

export type CheckResult =
  /** A newer release the policy allows. */
  | { readonly kind: "update"; readonly version: string; readonly detail: string }
  /** The server answered: nothing to install (same or older release, refused by policy, a release that failed here). */
  | { readonly kind: "none"; readonly detail: string }
  /** No answer worth acting on: network, HTTP status, not an artifact, bad signature. */
  | { readonly kind: "failed"; readonly detail: string };

export type PollInput =
  /** `reload`: started by a config reload on a running box, not at boot. */
  | { readonly kind: "start"; readonly blessed: boolean; readonly reload?: boolean }
  | { readonly kind: "blessed" }
  /** The timer fired; what the updater is doing right now. */
  | { readonly kind: "due"; readonly busy: boolean; readonly pendingReboot: boolean }
  | { readonly kind: "checked"; readonly result: CheckResult }
  | {
      readonly kind: "applied";
      readonly ok: boolean;
      readonly pendingReboot: boolean;
      readonly detail: string;
    };

export type PollAction =
  | { readonly kind: "check" }
  | { readonly kind: "apply"; readonly version: string }
  /** (Re)arm the one timer for `atMs`; any earlier one is void. */
  | { readonly kind: "wake"; readonly atMs: number }
  | { readonly kind: "event"; readonly event: string; readonly reason: string };

export interface PollConfig {
  readonly url: string;
  /** check_interval in ms; 0 = never poll. */
  readonly intervalMs: number;
  /** Tests shorten these; the box uses FIRST_CHECK_MS and RETRY_BASE_MS. */
  readonly firstCheckMs?: number;
  readonly retryBaseMs?: number;
}

export const INITIAL_POLL: PollState = { phase: "off", dueMs: undefined, failures: 0 };

/** `ms` spread by +-INTERVAL_JITTER; `random` in [0, 1). Pure. */
export function jittered(ms: number, random: number): number {
  return Math.round(ms * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random));
}

/** Delay before retrying after `failures` failures in a row. Pure. */
export function retryDelayMs(failures: number, intervalMs: number, baseMs = RETRY_BASE_MS): number {
  if (failures > MAX_RETRIES) return intervalMs;
  return Math.min(intervalMs, baseMs * 2 ** (failures - 1));
}

const secs = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** FIRST_CHECK_MS plus up to FIRST_CHECK_JITTER_MS (both scaled down together by a test's firstCheckMs). */
function firstDelay(cfg: PollConfig, random: number): number {
  const base = cfg.firstCheckMs ?? FIRST_CHECK_MS;
  return base + Math.round(base * (FIRST_CHECK_JITTER_MS / FIRST_CHECK_MS) * random);
}

export function stepPoll(
  s: PollState,
  input: PollInput,
  nowMs: number,
  random: number,
  cfg: PollConfig,
): { state: PollState; actions: PollAction[] } {
  const none = { state: s, actions: [] };
  const schedule = (
    delayMs: number,
    failures: number,
    event?: PollAction,
  ): { state: PollState; actions: PollAction[] } => {
    const atMs = nowMs + delayMs;
    return {
      state: { phase: "scheduled", dueMs: atMs, failures },
      actions: [...(event === undefined ? [] : [event]), { kind: "wake", atMs }],
    };
  };
  const ev = (event: string, reason: string): PollAction => ({ kind: "event", event, reason });
  /** One more failure in a row: the next check after the backoff, with `why` and the count logged. */
  const retry = (event: string, why: (failures: number, delay: string) => string) => {
    const failures = s.failures + 1;
    const delay = jittered(retryDelayMs(failures, cfg.intervalMs, cfg.retryBaseMs), random);
    return schedule(delay, failures, ev(event, why(failures, secs(delay))));
  };
  switch (input.kind) {
    case "start": {
      if (cfg.intervalMs <= 0) return { state: INITIAL_POLL, actions: [] };
      if (!input.blessed)
        return {
          state: { phase: "waiting-for-bless", dueMs: undefined, failures: 0 },
          actions: [
            ev("update.poll", `checking ${cfg.url} every ${secs(cfg.intervalMs)} once this boot is blessed`),
          ],
        };
      const delay =
        input.reload === true ? Math.round(RELOAD_CHECK_MS * (1 + random)) : firstDelay(cfg, random);
      return schedule(
        delay,
        0,
        ev("update.poll", `checking ${cfg.url} every ${secs(cfg.intervalMs)}; first check in ${secs(delay)}`),
      );
    }
    case "blessed": {
      if (s.phase !== "waiting-for-bless") return none;
      const delay = firstDelay(cfg, random);
      return schedule(
        delay,
        0,
        ev("update.poll", `boot blessed; first check of ${cfg.url} in ${secs(delay)}`),
      );
    }
    case "due": {
      if (s.phase !== "scheduled") return none;
      // A stray or early wake (a timer that fired before its time) re-arms the timer, nothing else.
      if (s.dueMs !== undefined && nowMs < s.dueMs)
        return { state: s, actions: [{ kind: "wake", atMs: s.dueMs }] };
      if (input.pendingReboot)
        return {
          state: { phase: "done", dueMs: undefined, failures: 0 },
          actions: [ev("update.poll", "an update waits for its reboot; no more checks until then")],
        };
      if (input.busy)
        return schedule(
          jittered(cfg.intervalMs, random),
          s.failures,
          ev("update.poll", "an update is being applied; check skipped"),
        );
      return {
        state: { phase: "checking", dueMs: undefined, failures: s.failures },
        actions: [{ kind: "check" }],
      };
    }
    case "checked": {
      if (s.phase !== "checking") return none;
      const r = input.result;
      if (r.kind === "update")
        return {
          state: { phase: "applying", dueMs: undefined, failures: s.failures },
          actions: [ev("update.available", r.detail), { kind: "apply", version: r.version }],
        };
      if (r.kind === "none") {
        const delay = jittered(cfg.intervalMs, random);
        return schedule(delay, 0, ev("update.checked", `${r.detail}; next check in ${secs(delay)}`));
      }
      return retry(
        "update.check_failed",
        (failures, delay) => `${r.detail} (${failures} in a row); next check in ${delay}`,
      );
    }
    case "applied": {
      if (s.phase !== "applying") return none;
      if (input.ok && input.pendingReboot)
        return { state: { phase: "done", dueMs: undefined, failures: 0 }, actions: [] };
      return retry(
        "update.poll",
        (_, delay) =>
          `the update found at ${cfg.url} was not installed: ${input.detail}; next check in ${delay}`,
      );
    }
  }
}

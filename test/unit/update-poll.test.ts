// The update poller's decisions (src/update/poll.ts) on a simulated clock: first check after the
// bless, the interval with jitter, backoff on failures, apply only for a newer release, never while an
// update runs or waits for its reboot.
import { describe, expect, test } from "bun:test";
import {
  type CheckResult,
  FIRST_CHECK_JITTER_MS,
  FIRST_CHECK_MS,
  INITIAL_POLL,
  INTERVAL_JITTER,
  jittered,
  MAX_RETRIES,
  type PollAction,
  type PollConfig,
  type PollInput,
  type PollState,
  RELOAD_CHECK_MS,
  RETRY_BASE_MS,
  retryDelayMs,
  stepPoll,
} from "../../src/update/poll.ts";

const HOUR = 3_600_000;
const CFG: PollConfig = { url: "http://10.0.0.1/fulcrum.fupd", intervalMs: HOUR };

/** A box on a simulated clock: feeds inputs, follows the one timer, collects every action. */
class Sim {
  state: PollState = INITIAL_POLL;
  now = 1_000_000;
  wakeAt: number | undefined;
  log: PollAction[] = [];
  constructor(
    private readonly cfg: PollConfig = CFG,
    private random = 0.5,
  ) {}
  feed(input: PollInput): PollAction[] {
    const { state, actions } = stepPoll(this.state, input, this.now, this.random, this.cfg);
    this.state = state;
    for (const a of actions) if (a.kind === "wake") this.wakeAt = a.atMs;
    this.log.push(...actions);
    return actions;
  }
  /** Runs the clock to the timer and fires it. */
  fire(facts = { busy: false, pendingReboot: false }): PollAction[] {
    if (this.wakeAt === undefined) throw new Error("no timer armed");
    this.now = this.wakeAt;
    this.wakeAt = undefined;
    return this.feed({ kind: "due", ...facts });
  }
  checked(result: CheckResult): PollAction[] {
    return this.feed({ kind: "checked", result });
  }
  setRandom(r: number): void {
    this.random = r;
  }
}

const kinds = (as: PollAction[]) => as.map((a) => a.kind);
const none: CheckResult = { kind: "none", detail: "offers 1.0; running 1.0, nothing newer" };
const failed: CheckResult = { kind: "failed", detail: "HTTP 503" };

describe("update poller decisions", () => {
  test("no interval: never polls", () => {
    const s = new Sim({ ...CFG, intervalMs: 0 });
    expect(s.feed({ kind: "start", blessed: true })).toEqual([]);
    expect(s.state.phase).toBe("off");
  });

  test("a boot on probation waits for its bless; then the first check comes 60-120 s later", () => {
    const s = new Sim(CFG, 0.25);
    expect(kinds(s.feed({ kind: "start", blessed: false }))).toEqual(["event"]);
    expect(s.state.phase).toBe("waiting-for-bless");
    expect(s.wakeAt).toBeUndefined();
    s.now += 30_000;
    s.feed({ kind: "blessed" });
    expect(s.wakeAt).toBe(s.now + FIRST_CHECK_MS + FIRST_CHECK_JITTER_MS / 4);
    expect(s.fire()).toEqual([{ kind: "check" }]);
    expect(s.state.phase).toBe("checking");
  });

  test("started by a config reload: the first check comes 10-20 s later", () => {
    const s = new Sim(CFG, 0.5);
    s.feed({ kind: "start", blessed: true, reload: true });
    expect((s.wakeAt ?? 0) - s.now).toBe(RELOAD_CHECK_MS * 1.5);
    // On probation, a reload still waits for the bless.
    const p = new Sim(CFG, 0.5);
    p.feed({ kind: "start", blessed: false, reload: true });
    expect(p.state.phase).toBe("waiting-for-bless");
  });

  test("nothing newer: the next check comes after the interval, spread by the jitter", () => {
    for (const r of [0, 0.5, 0.999]) {
      const s = new Sim(CFG, r);
      s.feed({ kind: "start", blessed: true });
      s.fire();
      const at = s.now;
      expect(kinds(s.checked(none))).toEqual(["event", "wake"]);
      const delay = (s.wakeAt ?? 0) - at;
      expect(delay).toBe(jittered(HOUR, r));
      expect(delay).toBeGreaterThanOrEqual(HOUR * (1 - INTERVAL_JITTER));
      expect(delay).toBeLessThan(HOUR * (1 + INTERVAL_JITTER));
    }
  });

  test("a day of nothing new: one check an interval, no more", () => {
    const s = new Sim();
    s.feed({ kind: "start", blessed: true });
    const start = s.now;
    let checks = 0;
    for (;;) {
      const actions = s.fire();
      if (s.now - start > 24 * HOUR) break;
      if (actions.some((a) => a.kind === "check")) checks++;
      s.checked(none);
    }
    expect(checks).toBe(24);
  });

  test("failures back off 30 s, 60 s, 120 s ... at most MAX_RETRIES times, then the interval; an answer resets it", () => {
    const s = new Sim(CFG, 0.5); // jitter factor exactly 1
    s.feed({ kind: "start", blessed: true });
    const delays: number[] = [];
    for (let i = 0; i < MAX_RETRIES + 2; i++) {
      s.fire();
      const at = s.now;
      const actions = s.checked(failed);
      expect(actions[0]).toMatchObject({ kind: "event", event: "update.check_failed" });
      delays.push((s.wakeAt ?? 0) - at);
    }
    expect(delays).toEqual([
      RETRY_BASE_MS,
      2 * RETRY_BASE_MS,
      4 * RETRY_BASE_MS,
      8 * RETRY_BASE_MS,
      16 * RETRY_BASE_MS,
      HOUR,
      HOUR,
    ]);
    expect(s.state.failures).toBe(MAX_RETRIES + 2);
    s.fire();
    s.checked(none);
    expect(s.state.failures).toBe(0);
    // Never longer than the interval, even early on.
    expect(retryDelayMs(5, 60_000)).toBe(60_000);
  });

  test("a newer release is applied; once it waits for its reboot, checks stop", () => {
    const s = new Sim();
    s.feed({ kind: "start", blessed: true });
    s.fire();
    const actions = s.checked({ kind: "update", version: "1.1", detail: "offers 1.1" });
    expect(actions).toEqual([
      { kind: "event", event: "update.available", reason: "offers 1.1" },
      { kind: "apply", version: "1.1" },
    ]);
    expect(s.state.phase).toBe("applying");
    expect(s.wakeAt).toBeUndefined(); // no check while applying
    expect(s.feed({ kind: "applied", ok: true, pendingReboot: true, detail: "written" })).toEqual([]);
    expect(s.state.phase).toBe("done");
    expect(s.wakeAt).toBeUndefined();
  });

  test("an apply that fails is retried with backoff", () => {
    const s = new Sim(CFG, 0.5);
    s.feed({ kind: "start", blessed: true });
    s.fire();
    s.checked({ kind: "update", version: "1.1", detail: "offers 1.1" });
    const at = s.now;
    const actions = s.feed({
      kind: "applied",
      ok: false,
      pendingReboot: false,
      detail: "payload root chunk 3 is corrupt",
    });
    expect(actions[0]).toMatchObject({
      kind: "event",
      reason: expect.stringContaining("chunk 3 is corrupt"),
    });
    expect((s.wakeAt ?? 0) - at).toBe(RETRY_BASE_MS);
    expect(s.fire()).toEqual([{ kind: "check" }]);
  });

  test("no check while an operator's update runs; none at all once one waits for its reboot", () => {
    const s = new Sim(CFG, 0.5);
    s.feed({ kind: "start", blessed: true });
    const busy = s.fire({ busy: true, pendingReboot: false });
    expect(kinds(busy)).toEqual(["event", "wake"]);
    expect(busy.some((a) => a.kind === "check")).toBe(false);
    expect(s.state.phase).toBe("scheduled");
    const pending = s.fire({ busy: false, pendingReboot: true });
    expect(kinds(pending)).toEqual(["event"]);
    expect(s.state.phase).toBe("done");
    expect(s.wakeAt).toBeUndefined();
  });

  test("stray inputs change nothing: an early timer re-arms, results out of phase are dropped", () => {
    const s = new Sim();
    s.feed({ kind: "start", blessed: true });
    const due = s.wakeAt ?? 0;
    s.now = due - 1000;
    expect(s.feed({ kind: "due", busy: false, pendingReboot: false })).toEqual([{ kind: "wake", atMs: due }]);
    const before = s.state;
    expect(s.checked(none)).toEqual([]);
    expect(s.feed({ kind: "applied", ok: true, pendingReboot: true, detail: "" })).toEqual([]);
    expect(s.feed({ kind: "blessed" })).toEqual([]);
    expect(s.state).toBe(before);
  });
});

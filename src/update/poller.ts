// The edge of the update poller (decisions in poll.ts): one timer, the HTTP check and the apply, each
// outcome fed back into the pure step. Stopped, it does nothing more (a check or apply still running
// finishes, its result is dropped).
import {
  type CheckResult,
  INITIAL_POLL,
  type PollAction,
  type PollConfig,
  type PollInput,
  type PollState,
  stepPoll,
} from "./poll.ts";

export interface PollerIo {
  check(): Promise<CheckResult>;
  /** Applies what `url` offers; resolves when the apply has ended. */
  apply(): Promise<{ ok: boolean; pendingReboot: boolean; detail: string }>;
  facts(): { busy: boolean; pendingReboot: boolean };
  emit(event: string, reason: string): void;
  now?: () => number;
  random?: () => number;
}

/** setTimeout's limit (~24.8 days); check_interval is at most 7 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class UpdatePoller {
  private state: PollState = INITIAL_POLL;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly cfg: PollConfig,
    private readonly io: PollerIo,
  ) {}

  get phase(): PollState["phase"] {
    return this.state.phase;
  }

  /** When the next check is due (epoch ms), if one is scheduled. */
  get nextCheckMs(): number | undefined {
    return this.state.dueMs;
  }

  /** `reload`: started by a config reload (first check sooner), not at boot. */
  start(blessed: boolean, reload = false): void {
    this.feed({ kind: "start", blessed, reload });
  }

  blessed(): void {
    this.feed({ kind: "blessed" });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private feed(input: PollInput): void {
    if (this.stopped) return;
    const now = (this.io.now ?? Date.now)();
    const { state, actions } = stepPoll(this.state, input, now, (this.io.random ?? Math.random)(), this.cfg);
    this.state = state;
    for (const a of actions) this.perform(a, now);
  }

  private perform(a: PollAction, now: number): void {
    switch (a.kind) {
      case "wake":
        clearTimeout(this.timer);
        this.timer = setTimeout(
          () => this.feed({ kind: "due", ...this.io.facts() }),
          Math.min(MAX_TIMER_MS, Math.max(0, a.atMs - now)),
        );
        return;
      case "event":
        this.io.emit(a.event, a.reason);
        return;
      case "check":
        void this.io
          .check()
          .catch((err: unknown): CheckResult => ({ kind: "failed", detail: `check failed: ${String(err)}` }))
          .then((result) => this.feed({ kind: "checked", result }));
        return;
      case "apply":
        void this.io
          .apply()
          .catch((err: unknown) => ({ ok: false, pendingReboot: false, detail: String(err) }))
          .then((r) => this.feed({ kind: "applied", ...r }));
        return;
    }
  }
}

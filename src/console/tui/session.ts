// One operator's TUI: ties the pure reducer and renderer to a terminal given as a write function plus
// input and resize calls. The tty and SSH adapters are thin wrappers around this; it owns the timers
// (periodic refresh, escape timeout) and runs at most one operator action at a time.
import type { Logger } from "pino";
import type { ActionHandler, Actor } from "../../state/actions.ts";
import type { BoxSnapshot } from "../../state/snapshot.ts";
import { performAudited } from "../audit.ts";
import { ESCAPE_TIMEOUT_MS, KeyDecoder } from "./keys.ts";
import { type Intent, initialUi, reduce, type UiInput, type UiState } from "./model.ts";
import { ENTER_SCREEN, LEAVE_SCREEN, Painter } from "./painter.ts";
import { render } from "./render.ts";

export interface TuiSessionOptions {
  readonly snapshot: () => BoxSnapshot;
  readonly actions: ActionHandler;
  readonly actor: Actor;
  readonly log: Logger;
  /**
   * Sends output. Returning false means the peer is not keeping up (SSH window full, slow serial line):
   * drawing pauses until resume() is called, so a stalled client cannot make output pile up.
   */
  readonly write: (text: string) => boolean | undefined;
  readonly cols: number;
  readonly rows: number;
  readonly allowQuit: boolean;
  /** Called once when the operator quits (q) or close() is called. */
  readonly onClose?: () => void;
  /** How often the screen refreshes from a new snapshot; 1 s by default. */
  readonly refreshMs?: number;
  /**
   * Repaint everything this often (0 = never). On a serial console kernel messages and line noise
   * scribble over the screen, and no one may be there to press Ctrl-L.
   */
  readonly fullRepaintMs?: number;
}

/** Terminals report absurd sizes sometimes (0x0 from a serial line, 10000 columns from a bug). */
const MAX_COLS = 500;
const MAX_ROWS = 200;
const MAX_INPUT_CHUNK = 4096;

export class TuiSession {
  private ui: UiState;
  private readonly decoder = new KeyDecoder();
  private readonly painter = new Painter();
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false });
  private cols: number;
  private rows: number;
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private escapeTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private lastSnapshot: BoxSnapshot | null = null;
  private lastFullRepaintMs = 0;
  private congested = false;

  constructor(private readonly opts: TuiSessionOptions) {
    this.ui = initialUi(opts.actor.role, opts.actor.who, opts.allowQuit);
    this.cols = clampSize(opts.cols, 80, MAX_COLS);
    this.rows = clampSize(opts.rows, 24, MAX_ROWS);
  }

  start(): void {
    this.opts.write(ENTER_SCREEN);
    this.draw(true);
    this.refreshTimer = setInterval(() => {
      const every = this.opts.fullRepaintMs ?? 0;
      this.draw(every > 0 && Date.now() - this.lastFullRepaintMs >= every);
    }, this.opts.refreshMs ?? 1000);
  }

  /** Raw bytes or text from the terminal. */
  input(data: string | Uint8Array): void {
    if (this.closed) return;
    const text =
      typeof data === "string" ? data : this.utf8.decode(data.subarray(0, MAX_INPUT_CHUNK), { stream: true });
    if (this.escapeTimer) {
      clearTimeout(this.escapeTimer);
      this.escapeTimer = null;
    }
    const { keys, waiting } = this.decoder.feed(text.slice(0, MAX_INPUT_CHUNK));
    for (const key of keys) this.dispatch({ kind: "key", key });
    if (waiting) {
      this.escapeTimer = setTimeout(() => {
        this.escapeTimer = null;
        for (const key of this.decoder.flush()) this.dispatch({ kind: "key", key });
      }, ESCAPE_TIMEOUT_MS);
    }
  }

  resize(cols: number, rows: number): void {
    this.cols = clampSize(cols, this.cols, MAX_COLS);
    this.rows = clampSize(rows, this.rows, MAX_ROWS);
    if (!this.closed) this.draw(true);
  }

  /** The peer drained its backlog: repaint everything, since frames were skipped meanwhile. */
  resume(): void {
    if (!this.congested || this.closed) return;
    this.congested = false;
    this.draw(true);
  }

  /** Restores the terminal and stops the timers; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    try {
      this.opts.write(LEAVE_SCREEN);
    } catch {
      // the terminal may already be gone (SSH client disconnected)
    }
    this.opts.onClose?.();
  }

  /** The state, for tests and diagnostics. */
  get state(): UiState {
    return this.ui;
  }

  private dispatch(input: UiInput): void {
    if (this.closed) return;
    const snapshot = this.snapshot();
    const step = reduce(this.ui, input, snapshot, this.rows);
    this.ui = step.ui;
    let full = false;
    for (const intent of step.intents) full = this.run(intent) || full;
    if (!this.closed) this.draw(full, snapshot);
  }

  /** Returns true when the intent asks for a full repaint. */
  private run(intent: Intent): boolean {
    switch (intent.kind) {
      case "quit":
        this.close();
        return false;
      case "redraw":
        return true;
      case "perform": {
        const action = intent.action;
        void performAudited(this.opts.actions, this.opts.actor, action, this.opts.log).then((result) =>
          this.dispatch({ kind: "result", action, result }),
        );
        return false;
      }
    }
  }

  private draw(full: boolean, snapshot: BoxSnapshot = this.snapshot()): void {
    if (this.closed) return;
    if (this.congested) {
      this.painter.invalidate(); // whatever is skipped now is repainted in full on resume()
      return;
    }
    if (full) this.lastFullRepaintMs = Date.now();
    const lines = render(snapshot, this.ui, this.cols, this.rows);
    const out = this.painter.paint(lines, this.cols, this.rows, full);
    if (out !== "") {
      try {
        if (this.opts.write(out) === false) this.congested = true;
      } catch (err) {
        this.opts.log.warn(
          { event: "console.write_failed", who: this.opts.actor.who, err },
          "terminal write failed",
        );
        this.close();
      }
    }
  }

  /** A provider that throws must not take the console down: show the last good snapshot instead. */
  private snapshot(): BoxSnapshot {
    try {
      this.lastSnapshot = this.opts.snapshot();
    } catch (err) {
      this.opts.log.error({ event: "console.snapshot_failed", err }, "snapshot provider threw");
    }
    return this.lastSnapshot ?? unavailableSnapshot();
  }
}

function unavailableSnapshot(): BoxSnapshot {
  const now = Date.now();
  return {
    hostname: "(state unavailable)",
    version: "?",
    build: "?",
    startedAtMs: now,
    nowMs: now,
    vrrp: [],
    services: [],
    events: [],
    update: { bootSlot: "?", state: "idle", progress: null, lastResult: "" },
  };
}

function clampSize(value: number, fallback: number, max: number): number {
  if (!Number.isInteger(value) || value <= 0) return fallback;
  return Math.min(value, max);
}

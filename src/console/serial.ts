// The box's serial console (ttyS0): boot and log lines and the TUI share one port, the way an
// appliance's console does. Two modes:
//   lines  log lines print as they come; once the box is ready a prompt says "press Enter for the
//          console". Other bytes (line noise, a stray key) are ignored.
//   tui    Enter opened the TUI; log lines are held back (counted, and kept on the TUI's Events/log
//          screen) so they do not scribble over it. q / Ctrl-D / Ctrl-C, or IDLE_MS without a key,
//          return to lines mode with a note of how many lines were held, and the prompt again.
// Output goes through a PortWriter: non-blocking, bounded, so a stuck or unplugged line costs dropped
// lines, never a blocked daemon. A port that fails (hangup, EIO) is opened again after REOPEN_MS.
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import type { Logger } from "pino";
import { setNonBlocking, setTerminalSpeed } from "../../ffi/libc.ts";
import type { LineSink } from "../log/output.ts";
import type { ActionHandler, Actor } from "../state/actions.ts";
import type { BoxSnapshot } from "../state/snapshot.ts";
import { PortWriter, type WriteSome } from "./port-writer.ts";
import { TuiSession } from "./tui/session.ts";

export interface SerialConsoleOptions {
  /** e.g. "/dev/ttyS0". */
  readonly device: string;
  readonly snapshot: () => BoxSnapshot;
  readonly actions: ActionHandler;
  readonly log: Logger;
  /** Default { who: "console:ttyS0", role: "admin" }: whoever holds the port holds the box. */
  readonly actor?: Actor;
  /** The TUI goes back to the prompt after this long without a key; 10 min by default. */
  readonly idleMs?: number;
  readonly refreshMs?: number;
  readonly reopenMs?: number;
  /** Bound on bytes queued for the port. */
  readonly queueBytes?: number;
  /** Line speed set on the port ([system] console_baud); undefined leaves it as the kernel set it. */
  readonly baud?: number;
}

export const SERIAL_IDLE_MS = 10 * 60_000;
export const SERIAL_REOPEN_MS = 5000;
export const SERIAL_PROMPT = "press Enter for the console";
const SIZE_POLL_MS = 1000;
const PROMPT_REPEAT_MS = 1000;

type Mode = "lines" | "tui";

/**
 * Opens a terminal without waiting for carrier (O_NONBLOCK) and without making it our controlling
 * terminal (O_NOCTTY: a hangup must not signal the daemon). `blocking` clears O_NONBLOCK afterwards:
 * Bun's tty.ReadStream wants a blocking fd (it polls before reading), our writes want a non-blocking one.
 */
export function openTerminal(device: string, blocking: boolean): number {
  const fd = openSync(device, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  if (blocking) {
    try {
      setNonBlocking(fd, false);
    } catch (err) {
      safeClose(fd);
      throw err;
    }
  }
  return fd;
}

export class SerialConsole implements LineSink {
  private mode: Mode = "lines";
  private ready = false;
  private closed = false;
  private fd = -1;
  private readFd = -1;
  private input: ReadStream | null = null;
  private sizeFd = -1;
  private sizer: WriteStream | null = null;
  private writer: PortWriter | null = null;
  private session: TuiSession | null = null;
  private held = 0;
  private droppedLines = 0;
  private lastKeyMs = 0;
  private lastPromptMs = 0;
  private timers: ReturnType<typeof setInterval> | null = null;
  private reopenTimer: ReturnType<typeof setTimeout> | null = null;
  private cols = 80;
  private rows = 24;
  private readonly actor: Actor;

  private constructor(private readonly opts: SerialConsoleOptions) {
    this.actor = opts.actor ?? { who: `console:${opts.device.replace(/^\/dev\//, "")}`, role: "admin" };
  }

  /** Opens the port; throws when the device cannot be opened at all. */
  static open(opts: SerialConsoleOptions): SerialConsole {
    const c = new SerialConsole(opts);
    c.attach();
    opts.log.info(
      { event: "console.serial_started", device: opts.device, baud: opts.baud ?? null },
      `serial console on the port${opts.baud === undefined ? "" : ` at ${opts.baud} baud`}`,
    );
    return c;
  }

  /** The box is up: show the prompt (and from now on after every TUI session). */
  markReady(): void {
    this.ready = true;
    if (this.mode === "lines") this.prompt();
  }

  /** A formatted log line (from LogOutput.redirect): printed in lines mode, held back under the TUI. */
  write(text: string): void {
    if (this.mode === "tui") {
      this.held += countLines(text);
      return;
    }
    if (this.writer === null || !this.writer.write(text)) this.droppedLines += countLines(text);
  }

  /** "lines" or "tui", for tests and diagnostics. */
  get state(): Mode {
    return this.mode;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.leaveTui(null);
    this.detach();
  }

  private attach(): void {
    this.readFd = openTerminal(this.opts.device, true);
    // The speed belongs to the line, not the fd: set once, it holds for both fds (and for the kernel's
    // own messages on the same port). A port that refuses it still works at the speed it has.
    if (this.opts.baud !== undefined) {
      try {
        setTerminalSpeed(this.readFd, this.opts.baud);
      } catch (err) {
        this.opts.log.error(
          { event: "console.serial_speed_failed", device: this.opts.device, baud: this.opts.baud, err },
          `cannot set ${this.opts.device} to ${this.opts.baud} baud: ${String(err)}`,
        );
      }
    }
    try {
      this.fd = openTerminal(this.opts.device, false);
    } catch (err) {
      safeClose(this.readFd);
      throw err;
    }
    const fd = this.fd;
    const writeSome: WriteSome = (bytes) => {
      try {
        return writeSync(fd, bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return "again";
        throw err;
      }
    };
    this.writer = new PortWriter({
      writeSome,
      ...(this.opts.queueBytes === undefined ? {} : { maxBytes: this.opts.queueBytes }),
      onDrain: () => this.onDrain(),
      onError: (err) => this.fail(err),
    });
    this.input = new ReadStream(this.readFd);
    this.input.setRawMode(true);
    this.input.on("data", (data: Buffer | string) => this.onInput(data));
    this.input.on("error", (err) => this.fail(err));
    this.input.on("end", () => this.fail(new Error("end of input")));
    this.timers = setInterval(() => this.tick(), SIZE_POLL_MS);
    if (this.ready) this.prompt();
  }

  private detach(): void {
    if (this.timers) clearInterval(this.timers);
    this.timers = null;
    this.writer?.close();
    this.writer = null;
    const input = this.input;
    this.input = null;
    if (input) {
      input.removeAllListeners("data");
      try {
        input.setRawMode(false);
      } catch {
        // the terminal is gone
      }
      input.on("error", () => {}); // a late error from a stream being torn down is not news
      input.destroy(); // closes readFd
    } else if (this.readFd >= 0) {
      safeClose(this.readFd);
    }
    if (this.fd >= 0) safeClose(this.fd);
    this.fd = -1;
    this.readFd = -1;
    this.sizer?.destroy();
    this.sizer = null;
    if (this.sizeFd >= 0) safeClose(this.sizeFd);
    this.sizeFd = -1;
  }

  private fail(err: unknown): void {
    if (this.closed || this.reopenTimer !== null) return;
    this.opts.log.warn(
      { event: "console.serial_failed", device: this.opts.device, err },
      "serial console failed; opening it again shortly",
    );
    this.leaveTui(null);
    this.detach();
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      if (this.closed) return;
      try {
        this.attach();
        this.opts.log.info(
          { event: "console.serial_reopened", device: this.opts.device },
          "serial console back",
        );
      } catch (err) {
        this.opts.log.warn(
          { event: "console.serial_reopen_failed", device: this.opts.device, err },
          "still failing",
        );
        this.scheduleReopen();
      }
    }, this.opts.reopenMs ?? SERIAL_REOPEN_MS);
  }

  private onInput(data: Buffer | string): void {
    if (this.closed) return;
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    this.lastKeyMs = Date.now();
    if (this.mode === "tui") {
      this.session?.input(new Uint8Array(bytes));
      return;
    }
    // Lines mode: only Enter means something; anything else (noise, a stray key) shows the prompt again
    // at most once a second, so a noisy line cannot flood the port.
    const enter = bytes.indexOf(0x0d) >= 0 || bytes.indexOf(0x0a) >= 0;
    if (enter) this.enterTui();
    else if (this.ready && Date.now() - this.lastPromptMs >= PROMPT_REPEAT_MS) this.prompt();
  }

  private enterTui(): void {
    if (this.writer === null) return;
    this.mode = "tui";
    this.held = 0;
    [this.cols, this.rows] = this.size();
    const session = new TuiSession({
      snapshot: this.opts.snapshot,
      actions: this.opts.actions,
      actor: this.actor,
      log: this.opts.log,
      write: (text) => this.writer?.write(text) ?? false,
      cols: this.cols,
      rows: this.rows,
      allowQuit: true,
      ...(this.opts.refreshMs === undefined ? {} : { refreshMs: this.opts.refreshMs }),
      // kernel messages still reach the port (printk does not go through us): repaint now and then
      fullRepaintMs: 30_000,
      onClose: () => this.leaveTui(session),
    });
    this.session = session;
    this.opts.log.info(
      { event: "console.serial_tui", who: this.actor.who, cols: this.cols, rows: this.rows },
      "serial console TUI opened",
    );
    session.start();
  }

  /** Back to lines mode; `from` is the session that ended (null: end whatever runs, without a prompt). */
  private leaveTui(from: TuiSession | null): void {
    const session = this.session;
    if (session === null || (from !== null && from !== session)) return;
    this.session = null;
    this.mode = "lines";
    if (from === null) session.close();
    const idle = Date.now() - this.lastKeyMs >= this.idleMs();
    const held = this.held;
    this.held = 0;
    this.opts.log.info(
      { event: "console.serial_lines", who: this.actor.who, held, idle },
      idle ? "serial console TUI closed after no key for a while" : "serial console TUI closed",
    );
    if (from === null || this.closed) return;
    const why = idle ? "console closed: no key for a while. " : "";
    this.writer?.write(
      `\r\n[${why}${held} log line(s) were held back while the console was open; its Events screen (3, l) has them]\r\n`,
    );
    this.prompt();
  }

  private prompt(): void {
    if (this.mode !== "lines" || this.writer === null) return;
    this.lastPromptMs = Date.now();
    const dropped = this.droppedLines;
    this.droppedLines = 0;
    const note = dropped > 0 ? `[${dropped} log line(s) not shown: the port was not keeping up]\r\n` : "";
    let host = "fulcrum";
    try {
      host = this.opts.snapshot().hostname;
    } catch {
      // the prompt does not need the snapshot
    }
    this.writer.write(`\r\n${note}fulcrum ${host} ready: ${SERIAL_PROMPT}\r\n`);
  }

  private onDrain(): void {
    this.session?.resume();
  }

  private tick(): void {
    if (this.mode !== "tui" || this.session === null) return;
    if (Date.now() - this.lastKeyMs >= this.idleMs()) {
      this.session.close(); // onClose -> leaveTui(session) with the idle note
      return;
    }
    const [c, r] = this.size();
    if (c !== this.cols || r !== this.rows) {
      this.cols = c;
      this.rows = r;
      this.session.resize(c, r);
    }
  }

  private idleMs(): number {
    return this.opts.idleMs ?? SERIAL_IDLE_MS;
  }

  /** The terminal's size if it reports one, else 80x24 (a serial line reports 0x0). */
  private size(): [number, number] {
    try {
      if (this.sizer === null) {
        // A second fd: a WriteStream makes its fd blocking, and ours must stay non-blocking.
        this.sizeFd = openSync(
          this.opts.device,
          constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK,
        );
        this.sizer = new WriteStream(this.sizeFd);
      }
      (this.sizer as unknown as { _refreshSize?: () => void })._refreshSize?.();
      const [cols, rows] = this.sizer.getWindowSize();
      if (cols > 0 && rows > 0) return [cols, rows];
    } catch {
      // no size to be had: the default
    }
    return [80, 24];
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return Math.max(1, n);
}

function safeClose(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

// The TUI on a terminal device: the box's serial console (/dev/ttyS0 in the image) or, for development,
// the terminal fulcrum was started from. Serial lines carry no window size (the kernel reports 0x0), so
// 80x24 is assumed there; pseudo-terminals report theirs and are polled, since SIGWINCH only reaches the
// controlling terminal's foreground process group.
import { openSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import type { Logger } from "pino";
import type { ActionHandler, Actor } from "../state/actions.ts";
import type { BoxSnapshot } from "../state/snapshot.ts";
import { TuiSession } from "./tui/session.ts";

export interface TtyConsoleOptions {
  readonly snapshot: () => BoxSnapshot;
  readonly actions: ActionHandler;
  /** Who is at this terminal, e.g. { who: "console:ttyS0", role: "admin" }. */
  readonly actor: Actor;
  readonly log: Logger;
  /** A terminal device such as "/dev/ttyS0"; process stdin/stdout when omitted. */
  readonly device?: string;
  /** Whether q ends the TUI; false for the box's serial console, which stays up. */
  readonly allowQuit?: boolean;
  readonly refreshMs?: number;
  /** Full repaint period; 30 s by default (kernel messages on the console port overwrite the screen). */
  readonly fullRepaintMs?: number;
  /** Called when the operator quits or the terminal goes away. */
  readonly onClose?: () => void;
}

export interface TtyConsole {
  close(): void;
}

const SIZE_POLL_MS = 1000;

export function startTtyConsole(opts: TtyConsoleOptions): TtyConsole {
  const { input, output, ownsStreams } = openStreams(opts.device);
  const sizeOf = (): [number, number] => {
    // getWindowSize() returns a cached value; _refreshSize() re-reads it from the kernel (TIOCGWINSZ).
    (output as unknown as { _refreshSize?: () => void })._refreshSize?.();
    const [cols, rows] = output.getWindowSize();
    return cols > 0 && rows > 0 ? [cols, rows] : [80, 24];
  };
  let [cols, rows] = sizeOf();
  let closed = false;
  const session = new TuiSession({
    snapshot: opts.snapshot,
    actions: opts.actions,
    actor: opts.actor,
    log: opts.log,
    write: (text) => output.write(text),
    cols,
    rows,
    allowQuit: opts.allowQuit ?? false,
    ...(opts.refreshMs === undefined ? {} : { refreshMs: opts.refreshMs }),
    fullRepaintMs: opts.fullRepaintMs ?? 30_000,
    onClose: () => shutdown(),
  });

  const onData = (data: Buffer | string) =>
    session.input(typeof data === "string" ? data : new Uint8Array(data));
  const checkSize = () => {
    const [c, r] = sizeOf();
    if (c !== cols || r !== rows) {
      cols = c;
      rows = r;
      session.resize(c, r);
    }
  };
  const onError = (err: unknown) => {
    opts.log.error(
      { event: "console.tty_error", device: opts.device ?? "stdin", err },
      "console terminal failed",
    );
    session.close();
  };
  input.setRawMode(true);
  input.on("data", onData);
  input.on("error", onError);
  output.on("error", onError);
  output.on("resize", checkSize);
  const onDrain = () => session.resume();
  output.on("drain", onDrain);
  const sizePoll = setInterval(checkSize, SIZE_POLL_MS);
  session.start();
  opts.log.info(
    { event: "console.tty_started", device: opts.device ?? "stdin", who: opts.actor.who, cols, rows },
    "console TUI started",
  );

  function shutdown(): void {
    if (closed) return;
    closed = true;
    clearInterval(sizePoll);
    input.off("data", onData);
    output.off("resize", checkSize);
    output.off("drain", onDrain);
    try {
      input.setRawMode(false);
    } catch {
      // terminal already gone
    }
    input.pause();
    if (ownsStreams) {
      input.destroy();
      output.destroy();
    }
    opts.onClose?.();
  }

  return {
    close: () => {
      session.close();
      shutdown();
    },
  };
}

function openStreams(device: string | undefined): {
  input: ReadStream;
  output: WriteStream;
  ownsStreams: boolean;
} {
  if (device === undefined) {
    if (!(process.stdin as ReadStream).isTTY || !(process.stdout as WriteStream).isTTY) {
      throw new Error("console: stdin/stdout is not a terminal");
    }
    return { input: process.stdin as ReadStream, output: process.stdout as WriteStream, ownsStreams: false };
  }
  const fd = openSync(device, "r+");
  return { input: new ReadStream(fd), output: new WriteStream(fd), ownsStreams: true };
}

// Logging: JSON lines by default (machines read them), human-readable on a terminal (people read them).
import pino, { type Logger } from "pino";
import { type LineSink, LogOutput } from "./output.ts";

export type { Logger };

export interface LoggerOptions {
  readonly level?: string;
  /** Force pretty or JSON; by default pretty only when `fd` is a terminal. */
  readonly pretty?: boolean;
  /** Destination file descriptor; stderr by default so stdout stays free for command output. */
  readonly fd?: number;
  /** Where formatted lines go instead of `fd` directly (the serial console can take it over). */
  readonly output?: LogOutput;
  /** Also gets every line as JSON, before formatting (e.g. the console's LogRing). */
  readonly tee?: LineSink;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 2;
  const wantPretty = options.pretty ?? (process.env["FULCRUM_LOG_FORMAT"] === "pretty" || isTty(fd));
  const base = {
    level: options.level ?? process.env["FULCRUM_LOG_LEVEL"] ?? "info",
    base: { app: "fulcrum" },
  };
  const output = options.output ?? new LogOutput(fd);
  // pino-pretty is loaded only when wanted: evaluating it costs a noticeable part of the box's boot
  // under emulation.
  const format = wantPretty
    ? (require("pino-pretty") as typeof import("pino-pretty")).prettyFactory({
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "app",
        // one line per event on the box's serial console (set by the image's PID 1 shim)
        singleLine: process.env["FULCRUM_LOG_SINGLE_LINE"] === "1",
      })
    : null;
  const tee = options.tee;
  // A plain object stream: pino writes to it synchronously, so every line is out before the next
  // statement runs (the last lines before a crash of PID 1 reach the console).
  const stream = {
    write(line: string): void {
      output.write(format === null ? line : format(line));
      tee?.write(line);
    },
  };
  return pino(base, stream);
}

function isTty(fd: number): boolean {
  if (fd === 1) return process.stdout.isTTY === true;
  if (fd === 2) return process.stderr.isTTY === true;
  return false;
}

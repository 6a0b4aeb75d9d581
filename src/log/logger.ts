// Logging: JSON lines by default (machines read them), human-readable on a terminal (people read them).
import pino, { type Logger } from "pino";

export type { Logger };

export interface LoggerOptions {
  readonly level?: string;
  /** Force pretty or JSON; by default pretty only when stderr is a terminal. */
  readonly pretty?: boolean;
  /** Destination file descriptor; stderr by default so stdout stays free for command output. */
  readonly fd?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 2;
  const wantPretty = options.pretty ?? (process.env["FULCRUM_LOG_FORMAT"] === "pretty" || isTty(fd));
  const base = {
    level: options.level ?? process.env["FULCRUM_LOG_LEVEL"] ?? "info",
    base: { app: "fulcrum" },
  };
  if (wantPretty) {
    // Loaded only when wanted: evaluating it costs a noticeable part of the box's boot under emulation.
    const pretty = require("pino-pretty") as typeof import("pino-pretty");
    return pino(
      base,
      pretty({
        destination: fd,
        sync: true,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "app",
        // one line per event on the box's serial console (set by the image's PID 1 shim)
        singleLine: process.env["FULCRUM_LOG_SINGLE_LINE"] === "1",
      }),
    );
  }
  return pino(base, pino.destination({ fd, sync: true }));
}

function isTty(fd: number): boolean {
  if (fd === 1) return process.stdout.isTTY === true;
  if (fd === 2) return process.stderr.isTTY === true;
  return false;
}

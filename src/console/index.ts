// The operator console as one unit for `fulcrum run`: the TUI on the serial console, the SSH server (TUI
// and CLI), and the management API with /metrics. Each part starts on its own: a port already in use or
// a broken host key must not keep the serial console from coming up, so failures are logged and reported
// in the handle rather than thrown.
import type { Logger } from "pino";
import type { ActionHandler, Actor } from "../state/actions.ts";
import type { BoxSnapshot } from "../state/snapshot.ts";
import type { ApiToken } from "./api/auth.ts";
import { type ApiServerHandle, type ApiTlsOptions, startApiServer } from "./api/server.ts";
import { SerialConsole, type SerialConsoleOptions } from "./serial.ts";
import type { SshUser } from "./ssh/auth.ts";
import { type SshServerHandle, startSshServer } from "./ssh/server.ts";
import { startTtyConsole, type TtyConsole } from "./tty.ts";

export type { ApiToken } from "./api/auth.ts";
export type { ApiTlsOptions } from "./api/server.ts";
export { consoleOptionsFromConfig } from "./from-config.ts";
export type { SshUser } from "./ssh/auth.ts";

export interface ConsoleOptions {
  /** The box as it is now; called for every screen refresh, command and scrape. Must not block. */
  readonly snapshot: () => BoxSnapshot;
  /** Where every operator change goes; the console also checks roles and logs each attempt. */
  readonly actions: ActionHandler;
  readonly log: Logger;
  /**
   * The box's serial console (src/console/serial.ts): log lines and, on Enter, the TUI, sharing the port.
   * The caller hands it the log lines (LogOutput.redirect) and calls markReady() when the box is up.
   */
  readonly serial?: Pick<SerialConsoleOptions, "device" | "actor" | "idleMs" | "queueBytes" | "baud">;
  /** The TUI alone on a terminal (development: the terminal fulcrum runs in). */
  readonly tty?: {
    /** e.g. "/dev/pts/3"; the process's own terminal when omitted. */
    readonly device?: string;
    /** Who is at the console; default { who: "console:<device>", role: "admin" } (physical access). */
    readonly actor?: Actor;
    readonly allowQuit?: boolean;
  };
  readonly ssh?: {
    readonly listen: string;
    readonly port: number;
    /** Directory on the data partition for the host key. */
    readonly hostKeyDir: string;
    readonly users: readonly SshUser[];
    readonly maxConnections?: number;
  };
  readonly api?: {
    readonly listen: string;
    readonly port: number;
    readonly tokens: readonly ApiToken[];
    readonly tls?: ApiTlsOptions;
    readonly metricsNeedToken?: boolean;
  };
}

export interface ConsoleHandle {
  readonly ssh: SshServerHandle | null;
  readonly api: ApiServerHandle | null;
  readonly tty: TtyConsole | null;
  readonly serial: SerialConsole | null;
  /** One line per part that failed to start. */
  readonly errors: readonly string[];
  /** Config reload: new SSH users and API tokens, without dropping sessions. */
  setUsers(users: readonly SshUser[]): void;
  setTokens(tokens: readonly ApiToken[]): void;
  close(): Promise<void>;
}

/** After the console terminal fails while running (hangup, EIO), it is opened again after this long. */
export const TTY_REOPEN_MS = 5000;

/** The TUI on a terminal, opened again if it fails later; the first open's failure is thrown. */
function superviseTty(opts: ConsoleOptions, log: Logger): TtyConsole {
  const device = opts.tty?.device;
  let closing = false;
  let current: TtyConsole | null = null;
  let reopenTimer: ReturnType<typeof setTimeout> | null = null;
  const open = (): TtyConsole =>
    startTtyConsole({
      snapshot: opts.snapshot,
      actions: opts.actions,
      log,
      actor: opts.tty?.actor ?? { who: `console:${device?.replace(/^\/dev\//, "") ?? "tty"}`, role: "admin" },
      ...(device === undefined ? {} : { device }),
      allowQuit: opts.tty?.allowQuit ?? false,
      onClose: () => {
        current = null;
        if (!closing && !(opts.tty?.allowQuit ?? false)) reopenTimer = setTimeout(reopen, TTY_REOPEN_MS);
      },
    });
  const reopen = () => {
    reopenTimer = null;
    if (closing) return;
    try {
      current = open();
      log.info({ event: "console.tty_reopened", device: device ?? "stdin" }, "console terminal opened again");
    } catch (err) {
      log.warn(
        { event: "console.tty_reopen_failed", device: device ?? "stdin", err },
        "console terminal still failing",
      );
      reopenTimer = setTimeout(reopen, TTY_REOPEN_MS);
    }
  };
  current = open();
  return {
    close: () => {
      closing = true;
      if (reopenTimer) clearTimeout(reopenTimer);
      current?.close();
    },
  };
}

export async function startConsole(opts: ConsoleOptions): Promise<ConsoleHandle> {
  const errors: string[] = [];
  const log = opts.log;
  const attempt = async <T>(part: string, start: () => T | Promise<T>): Promise<T | null> => {
    try {
      return await start();
    } catch (err) {
      const message = `${part}: ${err instanceof Error ? err.message : String(err)}`;
      errors.push(message);
      log.error({ event: "console.start_failed", part, err }, `console ${message}`);
      return null;
    }
  };

  const tty = opts.tty ? await attempt("tty", () => superviseTty(opts, log)) : null;
  const serial = opts.serial
    ? await attempt("serial", () =>
        SerialConsole.open({ ...opts.serial!, snapshot: opts.snapshot, actions: opts.actions, log }),
      )
    : null;
  const ssh = opts.ssh
    ? await attempt("ssh", () =>
        startSshServer({
          listen: opts.ssh!.listen,
          port: opts.ssh!.port,
          hostKeyDir: opts.ssh!.hostKeyDir,
          users: opts.ssh!.users,
          snapshot: opts.snapshot,
          actions: opts.actions,
          log,
          ...(opts.ssh!.maxConnections === undefined ? {} : { maxConnections: opts.ssh!.maxConnections }),
        }),
      )
    : null;
  const api = opts.api
    ? await attempt("api", () =>
        startApiServer({
          listen: opts.api!.listen,
          port: opts.api!.port,
          tokens: opts.api!.tokens,
          snapshot: opts.snapshot,
          actions: opts.actions,
          log,
          ...(opts.api!.tls ? { tls: opts.api!.tls } : {}),
          ...(opts.api!.metricsNeedToken === undefined
            ? {}
            : { metricsNeedToken: opts.api!.metricsNeedToken }),
        }),
      )
    : null;

  return {
    ssh,
    api,
    tty,
    serial,
    errors,
    setUsers: (users) => ssh?.setUsers(users),
    setTokens: (tokens) => api?.setTokens(tokens),
    close: async () => {
      tty?.close();
      serial?.close();
      await Promise.allSettled([ssh?.close(), api?.close()]);
    },
  };
}

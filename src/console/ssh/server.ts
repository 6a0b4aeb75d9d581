// The console over SSH (ssh2, pure JS): `ssh user@box` opens the TUI, `ssh user@box show vrrp` runs one
// CLI command, and a shell without a terminal (`echo "show vrrp" | ssh -T user@box`) runs commands line
// by line. Public-key login only, roles from config; every bound below is explicit.
import type { Logger } from "pino";
import type { Connection, ServerChannel, Session } from "ssh2";
import type { ActionHandler, Actor, Role } from "../../state/actions.ts";
import type { BoxSnapshot } from "../../state/snapshot.ts";
import { type CliContext, runConsoleCommand } from "../cli/commands.ts";
import { TuiSession } from "../tui/session.ts";
import { AuthorizedUsers, type SshUser } from "./auth.ts";
import { loadOrCreateHostKey } from "./hostkey.ts";
import { ssh2 } from "./ssh2.ts";

export interface SshServerOptions {
  /** Address to listen on, e.g. "0.0.0.0" or the management interface's address. */
  readonly listen: string;
  /** 22 on a box; 0 picks a free port (tests). */
  readonly port: number;
  /** Where the host key lives (created on first start): the data partition on a box. */
  readonly hostKeyDir: string;
  readonly users: readonly SshUser[];
  readonly snapshot: () => BoxSnapshot;
  readonly actions: ActionHandler;
  readonly log: Logger;
  readonly maxConnections?: number;
  /** Seconds a connection may take to authenticate before it is dropped. */
  readonly loginGraceSeconds?: number;
}

export interface SshServerHandle {
  readonly port: number;
  readonly hostPublicKey: string;
  readonly hostKeyFingerprint: string;
  /** Replace the users and keys (config reload); existing sessions keep running. */
  setUsers(users: readonly SshUser[]): void;
  close(): Promise<void>;
}

const DEFAULT_MAX_CONNECTIONS = 32;
const DEFAULT_LOGIN_GRACE_SECONDS = 30;
/** OpenSSH's MaxAuthTries default. */
const MAX_AUTH_ATTEMPTS = 6;
const MAX_SESSIONS_PER_CONNECTION = 4;
const MAX_LINE = 4096;

export async function startSshServer(opts: SshServerOptions): Promise<SshServerHandle> {
  const hostKey = loadOrCreateHostKey(opts.hostKeyDir);
  const log = opts.log;
  if (hostKey.created)
    log.info(
      { event: "console.ssh_hostkey_created", path: hostKey.path, fingerprint: hostKey.fingerprint },
      "created SSH host key",
    );
  let users = loadUsers(opts.users, log);
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const graceMs = (opts.loginGraceSeconds ?? DEFAULT_LOGIN_GRACE_SECONDS) * 1000;
  const connections = new Set<Connection>();

  // Keepalives find clients that vanished without closing (cable pulled), so their sessions are freed.
  const serverConfig = {
    hostKeys: [hostKey.privateKey],
    ident: "fulcrum",
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
  };
  const server = new (ssh2().Server)(serverConfig, (client, info) => {
    const remote = info.ip;
    // First: an 'error' event with no listener would throw out of the event loop.
    client.on("error", (err) =>
      log.debug({ event: "console.ssh_client_error", remote, err: err.message }, "SSH client error"),
    );
    if (connections.size >= maxConnections) {
      log.warn(
        { event: "console.ssh_refused", remote, reason: "too many connections" },
        "SSH connection refused",
      );
      client.end();
      return;
    }
    connections.add(client);
    let actor: Actor | null = null;
    let failures = 0;
    const grace = setTimeout(() => {
      if (actor === null) {
        log.warn({ event: "console.ssh_login_timeout", remote }, "SSH login took too long");
        client.end();
      }
    }, graceMs);

    client.on("authentication", (ctx) => {
      // Like OpenSSH's MaxAuthTries: refused attempts count ("none" and key queries that succeed do not).
      const refuse = (reason: string, fields: Record<string, unknown> = {}) => {
        failures++;
        log.warn(
          { event: "console.ssh_auth_failed", remote, user: ctx.username, reason, ...fields },
          "SSH login refused",
        );
        if (failures >= MAX_AUTH_ATTEMPTS) {
          log.warn(
            { event: "console.ssh_auth_failed", remote, user: ctx.username, reason: "too many attempts" },
            "SSH connection closed",
          );
          client.end();
          return;
        }
        ctx.reject(["publickey"]);
      };
      if (ctx.method === "none") {
        ctx.reject(["publickey"]);
        return;
      }
      if (ctx.method !== "publickey") {
        refuse("public keys only", { method: ctx.method });
        return;
      }
      const match = users.keyFor(ctx.username, ctx.key.data);
      if (match === null) {
        refuse("key not authorized");
        return;
      }
      if (!ctx.signature || !ctx.blob) {
        ctx.accept(); // the client asks whether this key would do; it signs next
        return;
      }
      if (!match.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
        refuse("bad signature");
        return;
      }
      actor = { who: `${ctx.username}@ssh:${remote}`, role: match.role };
      log.info(
        { event: "console.ssh_login", who: actor.who, role: match.role, key: match.key.fingerprint },
        "SSH login",
      );
      ctx.accept();
    });

    client.on("ready", () => {
      clearTimeout(grace);
      let sessions = 0;
      client.on("session", (accept, reject) => {
        if (actor === null || sessions >= MAX_SESSIONS_PER_CONNECTION) {
          reject();
          return;
        }
        sessions++;
        const session = accept();
        serveSession(session, actor, opts, () => sessions--);
      });
    });
    client.on("close", () => {
      clearTimeout(grace);
      connections.delete(client);
      if (actor) log.info({ event: "console.ssh_logout", who: actor.who }, "SSH logout");
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.listen, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err: Error) => log.error({ event: "console.ssh_error", err }, "SSH server error"));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : opts.port;
  log.info(
    {
      event: "console.ssh_listening",
      listen: opts.listen,
      port,
      fingerprint: hostKey.fingerprint,
      users: users.size,
    },
    `SSH console on ${opts.listen}:${port}, host key ${hostKey.fingerprint}`,
  );

  return {
    port,
    hostPublicKey: hostKey.publicKey,
    hostKeyFingerprint: hostKey.fingerprint,
    setUsers: (next) => {
      users = loadUsers(next, log);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.end();
        server.close(() => resolve());
      }),
  };
}

function loadUsers(list: readonly SshUser[], log: Logger): AuthorizedUsers {
  const users = new AuthorizedUsers(list);
  for (const p of users.problems) log.warn({ event: "console.ssh_key_ignored", user: p.user }, p.message);
  return users;
}

function serveSession(session: Session, actor: Actor, opts: SshServerOptions, onEnd: () => void): void {
  let pty: { cols: number; rows: number } | null = null;
  let tui: TuiSession | null = null;
  let started = false;
  const cli: CliContext = { snapshot: opts.snapshot, actions: opts.actions, actor, log: opts.log };

  session.on("pty", (accept, _reject, info) => {
    pty = { cols: info.cols, rows: info.rows };
    accept?.();
  });
  session.on("window-change", (accept, _reject, info) => {
    pty = { cols: info.cols, rows: info.rows };
    tui?.resize(info.cols, info.rows);
    accept?.();
  });
  session.on("env", (accept) => accept?.());
  session.on("signal", (accept) => accept?.());
  session.on("sftp", (_accept, reject) => reject());
  session.on("subsystem", (_accept, reject) => reject());
  session.on("auth-agent", (_accept, reject) => reject());
  session.on("x11", (_accept, reject) => reject());
  session.on("close", onEnd);

  session.on("shell", (accept, reject) => {
    if (started) return reject();
    started = true;
    const channel = accept();
    if (pty) {
      tui = startTui(channel, actor, opts, pty);
    } else {
      serveLines(channel, cli);
    }
  });
  session.on("exec", (accept, reject, info) => {
    if (started) return reject();
    started = true;
    const channel = accept();
    // With a terminal (ssh -t) the client's tty is raw, so lines need CR LF.
    const crlf = pty !== null;
    void runConsoleCommand(info.command, cli).then((result) => {
      safeWrite(channel, crlf ? toCrlf(result.stdout) : result.stdout);
      if (result.stderr) channel.stderr.write(crlf ? toCrlf(result.stderr) : result.stderr);
      finish(channel, result.code);
    });
  });
}

function startTui(
  channel: ServerChannel,
  actor: Actor,
  opts: SshServerOptions,
  size: { cols: number; rows: number },
): TuiSession {
  const tui = new TuiSession({
    snapshot: opts.snapshot,
    actions: opts.actions,
    actor,
    log: opts.log,
    write: (text) => safeWrite(channel, text),
    cols: size.cols,
    rows: size.rows,
    allowQuit: true,
    onClose: () => finish(channel, 0),
  });
  channel.on("data", (data: Buffer) => tui.input(new Uint8Array(data)));
  channel.on("drain", () => tui.resume());
  channel.on("close", () => tui.close());
  channel.on("error", () => tui.close());
  tui.start();
  return tui;
}

/** Shell without a terminal: one command per line, for `ssh -T box < script`. */
function serveLines(channel: ServerChannel, cli: CliContext): void {
  let buffered = "";
  let queue = Promise.resolve();
  channel.on("data", (data: Buffer) => {
    buffered += data.toString("utf8");
    if (buffered.length > MAX_LINE && !buffered.includes("\n")) {
      channel.stderr.write(`line longer than ${MAX_LINE} characters; ignored\n`);
      buffered = "";
      return;
    }
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.replace(/\r$/, "").trim();
      if (line === "" || line.startsWith("#")) continue;
      if (line === "exit" || line === "quit") {
        queue = queue.then(() => finish(channel, 0));
        continue;
      }
      queue = queue.then(async () => {
        const r = await runConsoleCommand(line, cli);
        safeWrite(channel, r.stdout);
        if (r.stderr) channel.stderr.write(r.stderr);
      });
    }
  });
  channel.on("end", () => {
    void queue.then(() => finish(channel, 0));
  });
}

/** False when the channel's window is full (the caller should wait for "drain"). */
function safeWrite(channel: ServerChannel, text: string): boolean {
  if (text === "" || channel.destroyed) return true;
  try {
    return channel.write(text);
  } catch {
    return true; // the client went away; the close handler cleans up
  }
}

function finish(channel: ServerChannel, code: number): void {
  if (channel.destroyed) return;
  try {
    channel.exit(code);
    channel.end();
  } catch {
    // already closed
  }
}

function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, "\r\n");
}

export type { Role, SshUser };

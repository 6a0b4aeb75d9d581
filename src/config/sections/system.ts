// [system]: hostname, console, [system.ssh] (+ users), [system.api], [system.log], [system.sysctl].

import { DEFAULTS } from "../defaults.ts";
import { formatIp, isLoopback } from "../net.ts";
import type { PathSeg } from "../path.ts";
import { type Ctx, readString, TableReader } from "../reader.ts";
import type { LogLevel, SshUserConfig, SystemConfig, SystemSysctls, UserRole } from "../types.ts";

export const SYSTEM_KEYS = ["hostname", "console", "console_baud", "ssh", "api", "log", "sysctl"];
export const SSH_KEYS = ["enabled", "listen", "port", "users"];
export const USER_KEYS = ["name", "role", "authorized_keys"];
export const API_KEYS = ["enabled", "listen", "port", "token"];
export const LOG_KEYS = ["level"];
export const SYSCTL_KEYS = Object.keys(DEFAULTS.system.sysctl);
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal"];
const ROLES: readonly UserRole[] = ["admin", "viewer"];
const BAUD_RATES = [9600, 19200, 38400, 57600, 115200];
const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];
const HOSTNAME_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const CONSOLE_DEVICE = /^(tty[A-Za-z]*[0-9]+|hvc[0-9]+)$/;
const MIN_TOKEN_LENGTH = 16;

export function readSystem(ctx: Ctx, raw: unknown): SystemConfig {
  const d = DEFAULTS.system;
  const t = raw === undefined ? undefined : TableReader.open(ctx, ["system"], raw, SYSTEM_KEYS);
  let hostname: string = d.hostname;
  const h = t?.string("hostname");
  if (t !== undefined && h !== undefined) {
    if (isValidHostname(h)) hostname = h;
    else
      ctx.valueError(
        t.at("hostname"),
        `invalid hostname '${h}'; allowed: RFC 1123 labels of letters, digits and '-' (1..63 each, not starting or ending with '-'), 253 characters in all`,
      );
  }
  let console: string = d.console;
  const c = t?.string("console");
  if (t !== undefined && c !== undefined) {
    if (c === "" || CONSOLE_DEVICE.test(c)) console = c;
    else
      ctx.valueError(
        t.at("console"),
        `invalid console device '${c}'; expected a name like ttyS0, tty1 or hvc0, or "" for none`,
      );
  }
  let consoleBaud: number = d.console_baud;
  if (t?.has("console_baud")) {
    const b = t.get("console_baud");
    if (typeof b === "number" && BAUD_RATES.includes(b)) consoleBaud = b;
    else
      ctx.valueError(
        t.at("console_baud"),
        `unsupported baud rate ${String(b)}; allowed: ${BAUD_RATES.join(", ")}`,
      );
  }
  return {
    hostname,
    console,
    console_baud: consoleBaud,
    ssh: readSsh(ctx, t),
    api: readApi(ctx, t),
    log: { level: t?.table("log", LOG_KEYS)?.enumOf("level", LOG_LEVELS, "log level") ?? d.log.level },
    sysctl: readSysctls(t),
  };
}

export function isValidHostname(h: string): boolean {
  return h.length >= 1 && h.length <= 253 && h.split(".").every((l) => HOSTNAME_LABEL.test(l));
}

function readSsh(ctx: Ctx, system: TableReader | undefined): SystemConfig["ssh"] {
  const d = DEFAULTS.system.ssh;
  const t = system?.table("ssh", SSH_KEYS);
  const listen = t?.ip("listen");
  const users = t?.list("users", (path, item) => readUser(ctx, path, item)) ?? [];
  const seen = new Map<string, PathSeg[]>();
  users.forEach((u, i) => {
    if (seen.has(u.name)) {
      ctx.valueError(
        ["system", "ssh", "users", i, "name"],
        `duplicate user '${u.name}'; each user appears once`,
      );
    }
    seen.set(u.name, ["system", "ssh", "users", i]);
  });
  return {
    enabled: t?.bool("enabled") ?? d.enabled,
    listen: listen === undefined ? d.listen : formatIp(listen),
    port: t?.int("port", 1, 65535) ?? d.port,
    users,
  };
}

function readUser(ctx: Ctx, path: PathSeg[], raw: unknown): SshUserConfig | undefined {
  const t = TableReader.open(ctx, path, raw, USER_KEYS);
  if (t === undefined) return undefined;
  t.require("name");
  t.require("authorized_keys", " (a list of OpenSSH public keys)");
  const name = t.string("name");
  if (name !== undefined && !USER_NAME.test(name)) {
    ctx.valueError(
      t.at("name"),
      `invalid user name '${name}'; allowed: [a-z_][a-z0-9_-]*, at most 32 characters`,
    );
  }
  const role = t.enumOf("role", ROLES, "role") ?? "viewer";
  const keys = t.list("authorized_keys", (p, item) => {
    const s = readString(ctx, p, item);
    if (s === undefined) return undefined;
    const why = sshKeyProblem(s);
    if (why === undefined) return s.trim();
    ctx.valueError(p, why);
    return undefined;
  });
  const rawKeys = t.get("authorized_keys");
  if (Array.isArray(rawKeys) && rawKeys.length === 0) {
    ctx.valueError(t.at("authorized_keys"), "must list at least one public key");
  }
  if (name === undefined || keys === undefined) return undefined;
  return { name, role, authorized_keys: keys, pos: ctx.sourcePos(path) };
}

/** undefined if the line looks like "TYPE BASE64 [comment]" with a blob of that type; else why not. */
export function sshKeyProblem(line: string): string | undefined {
  const expected = `expected an OpenSSH public key like "ssh-ed25519 AAAAC3Nza... user@host"`;
  const parts = line.trim().split(/\s+/);
  const [type, blob] = parts;
  if (type === undefined || blob === undefined) return `not a public key; ${expected}`;
  if (!SSH_KEY_TYPES.includes(type)) {
    return `unsupported key type '${type}'; allowed: ${SSH_KEY_TYPES.join(", ")}`;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) {
    return `key data of the ${type} key is not valid base64; ${expected}`;
  }
  const bytes = Buffer.from(blob, "base64");
  const len = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  const inner = len > 0 && len + 4 <= bytes.length ? bytes.subarray(4, 4 + len).toString("latin1") : "";
  if (inner !== type) return `key data does not hold a ${type} key (it says '${inner}'); ${expected}`;
  if (type === "ssh-ed25519" && bytes.length !== 51) {
    return `ssh-ed25519 key data has ${bytes.length} bytes, expected 51; ${expected}`;
  }
  return undefined;
}

function readApi(ctx: Ctx, system: TableReader | undefined): SystemConfig["api"] {
  const d = DEFAULTS.system.api;
  const t = system?.table("api", API_KEYS);
  const listen = t?.ip("listen");
  const enabled = t?.bool("enabled") ?? (t !== undefined ? true : d.enabled);
  const token = t?.string("token");
  if (t !== undefined && token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    ctx.valueError(
      t.at("token"),
      `token is ${token.length} characters; allowed: at least ${MIN_TOKEN_LENGTH}`,
    );
  }
  if (t !== undefined && enabled && listen !== undefined && !isLoopback(listen) && token === undefined) {
    ctx.valueError(
      t.at("listen"),
      `the API listens on non-loopback ${formatIp(listen)} without a token; set system.api.token (at least ${MIN_TOKEN_LENGTH} characters)`,
    );
  }
  return {
    enabled,
    listen: listen === undefined ? d.listen : formatIp(listen),
    port: t?.int("port", 1, 65535) ?? d.port,
    ...(token === undefined ? {} : { token }),
  };
}

function readSysctls(system: TableReader | undefined): SystemSysctls {
  const t = system?.table("sysctl", SYSCTL_KEYS);
  const out: Record<string, boolean> = { ...DEFAULTS.system.sysctl };
  for (const key of SYSCTL_KEYS) {
    const v = t?.bool(key);
    if (v !== undefined) out[key] = v;
  }
  return out as unknown as SystemSysctls;
}

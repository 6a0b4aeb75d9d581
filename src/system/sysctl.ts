// Typed, validated reads and writes of the networking sysctls fulcrum owns (/proc/sys/net/...).
// Writes happen only when the value differs, and report what changed.
// The sysctls are per network namespace: they follow the calling thread's namespace at open time.
import { readFileSync, writeFileSync } from "node:fs";

export type Ipv4ConfKey = "arp_ignore" | "arp_announce" | "arp_filter" | "rp_filter" | "send_redirects";

/** Accepted values per key (kernel documentation, ip-sysctl.rst). */
export const IPV4_CONF_RANGES: Readonly<Record<Ipv4ConfKey, readonly [number, number]>> = {
  arp_ignore: [0, 8],
  arp_announce: [0, 2],
  arp_filter: [0, 1],
  rp_filter: [0, 2],
  send_redirects: [0, 1],
};

export class SysctlError extends Error {
  override readonly name = "SysctlError";
  constructor(
    readonly path: string,
    message: string,
    readonly code?: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** File access seam: the real /proc/sys by default, a map in unit tests. */
export interface SysctlIo {
  read(path: string): string;
  write(path: string, value: string): void;
}

export const procSysctl: SysctlIo = {
  read: (path) => readFileSync(path, "utf8"),
  write: (path, value) => writeFileSync(path, value),
};

export interface SysctlChange {
  readonly path: string;
  readonly before: number;
  readonly after: number;
}

const SYS = "/proc/sys/net";

/** An interface name, or "all"/"default" (which /proc/sys/net/ipv4/conf also holds). */
export function checkConfTarget(target: string): void {
  if (
    target.length === 0 ||
    new TextEncoder().encode(target).byteLength > 15 ||
    target === "." ||
    target === ".." ||
    /[/\s:\0]/.test(target)
  ) {
    throw new SysctlError(`${SYS}/ipv4/conf/?`, `bad interface name ${JSON.stringify(target)}`, "EINVAL");
  }
}

function ioError(path: string, err: unknown): SysctlError {
  const code = (err as { code?: unknown })?.code;
  return new SysctlError(
    path,
    String((err as Error)?.message ?? err),
    typeof code === "string" ? code : undefined,
  );
}

export function readInt(path: string, io: SysctlIo = procSysctl): number {
  let text: string;
  try {
    text = io.read(path);
  } catch (err) {
    throw ioError(path, err);
  }
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new SysctlError(path, `not an integer: ${JSON.stringify(t.slice(0, 40))}`);
  return Number(t);
}

/** Writes value if it differs from the current one; returns the change, or null when already set. */
export function writeInt(path: string, value: number, io: SysctlIo = procSysctl): SysctlChange | null {
  if (!Number.isSafeInteger(value)) throw new SysctlError(path, `not an integer: ${value}`, "EINVAL");
  const before = readInt(path, io);
  if (before === value) return null;
  try {
    io.write(path, `${value}\n`);
  } catch (err) {
    throw ioError(path, err);
  }
  const after = readInt(path, io);
  if (after !== value) throw new SysctlError(path, `wrote ${value} but the kernel kept ${after}`);
  return { path, before, after };
}

export function ipv4ConfPath(target: string, key: Ipv4ConfKey): string {
  checkConfTarget(target);
  return `${SYS}/ipv4/conf/${target}/${key}`;
}

export function getIpv4Conf(target: string, key: Ipv4ConfKey, io: SysctlIo = procSysctl): number {
  return readInt(ipv4ConfPath(target, key), io);
}

export function setIpv4Conf(
  target: string,
  key: Ipv4ConfKey,
  value: number,
  io: SysctlIo = procSysctl,
): SysctlChange | null {
  const [min, max] = IPV4_CONF_RANGES[key];
  const path = ipv4ConfPath(target, key);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SysctlError(path, `value ${value} outside ${min}..${max}`, "EINVAL");
  }
  return writeInt(path, value, io);
}

export function setIpForward(on: boolean, io: SysctlIo = procSysctl): SysctlChange | null {
  return writeInt(`${SYS}/ipv4/ip_forward`, on ? 1 : 0, io);
}

export function getIpForward(io: SysctlIo = procSysctl): boolean {
  return readInt(`${SYS}/ipv4/ip_forward`, io) === 1;
}

export function setIpv6Forwarding(on: boolean, io: SysctlIo = procSysctl): SysctlChange | null {
  return writeInt(`${SYS}/ipv6/conf/all/forwarding`, on ? 1 : 0, io);
}

/** The per-interface values a config may set; booleans become 0/1. Undefined fields are left alone. */
export interface Ipv4ConfValues {
  readonly arp_ignore?: number;
  readonly arp_announce?: number;
  readonly arp_filter?: boolean;
  readonly rp_filter?: number;
  readonly send_redirects?: boolean;
}

/** Applies every defined value for one interface (or "all"/"default"); returns what changed. */
export function applyIpv4Conf(
  target: string,
  values: Ipv4ConfValues,
  io: SysctlIo = procSysctl,
): SysctlChange[] {
  const changes: SysctlChange[] = [];
  const order: Ipv4ConfKey[] = ["arp_ignore", "arp_announce", "arp_filter", "rp_filter", "send_redirects"];
  for (const key of order) {
    const v = values[key];
    if (v === undefined) continue;
    const c = setIpv4Conf(target, key, typeof v === "boolean" ? (v ? 1 : 0) : v, io);
    if (c) changes.push(c);
  }
  return changes;
}

/** Box-wide sysctls ([system.sysctl] in the config). */
export interface SystemSysctlValues {
  readonly ip_forward: boolean;
  readonly ipv6_forwarding: boolean;
  readonly ip_nonlocal_bind: boolean;
  readonly vs_conntrack: boolean;
  readonly vs_expire_nodest_conn: boolean;
  readonly vs_expire_quiescent_template: boolean;
  readonly vs_sloppy_tcp: boolean;
}

const SYSTEM_PATHS: Readonly<Record<keyof SystemSysctlValues, string>> = {
  ip_forward: `${SYS}/ipv4/ip_forward`,
  ipv6_forwarding: `${SYS}/ipv6/conf/all/forwarding`,
  ip_nonlocal_bind: `${SYS}/ipv4/ip_nonlocal_bind`,
  vs_conntrack: `${SYS}/ipv4/vs/conntrack`,
  vs_expire_nodest_conn: `${SYS}/ipv4/vs/expire_nodest_conn`,
  vs_expire_quiescent_template: `${SYS}/ipv4/vs/expire_quiescent_template`,
  vs_sloppy_tcp: `${SYS}/ipv4/vs/sloppy_tcp`,
};

export interface SystemSysctlReport {
  readonly changes: SysctlChange[];
  /** Keys whose file does not exist (net.ipv4.vs.* before ip_vs is loaded, IPv6 disabled). */
  readonly unavailable: (keyof SystemSysctlValues)[];
  /** Keys that could not be set although the config wants them on (their feature is absent, or EACCES). */
  readonly failed: { readonly key: keyof SystemSysctlValues; readonly error: string }[];
}

/**
 * Writes the box-wide values. A missing file is reported in `unavailable` when the wanted value is off
 * (nothing to do) and in `failed` when it is on (the feature the config relies on is absent). One key that
 * fails never stops the others.
 */
export function applySystemSysctls(
  values: SystemSysctlValues,
  io: SysctlIo = procSysctl,
): SystemSysctlReport {
  const changes: SysctlChange[] = [];
  const unavailable: (keyof SystemSysctlValues)[] = [];
  const failed: SystemSysctlReport["failed"] = [];
  for (const key of Object.keys(SYSTEM_PATHS) as (keyof SystemSysctlValues)[]) {
    const path = SYSTEM_PATHS[key];
    try {
      const c = writeInt(path, values[key] ? 1 : 0, io);
      if (c) changes.push(c);
    } catch (err) {
      if (err instanceof SysctlError && err.code === "ENOENT" && !values[key]) unavailable.push(key);
      else failed.push({ key, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { changes, unavailable, failed };
}

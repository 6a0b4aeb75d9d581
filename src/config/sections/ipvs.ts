// [ipvs]: kernel-wide IPVS settings: connection timeouts (ipvsadm --set) and the connection sync
// daemon (ipvsadm --start-daemon; keepalived's lvs_sync_daemon), whose role can follow a VRRP instance.

import { formatIp, type IpAddr } from "../net.ts";
import type { Ctx, TableReader } from "../reader.ts";
import type { IpvsConfig, SyncDaemonConfig, SyncDaemonState } from "../types.ts";

export const IPVS_KEYS = ["timeout_tcp", "timeout_tcpfin", "timeout_udp", "drain_timeout", "sync_daemon"];
/** How long a drained real server keeps its connections before it is removed anyway (seconds). */
export const DEFAULT_DRAIN_TIMEOUT = 300;
export const SYNC_DAEMON_KEYS = [
  "interface",
  "syncid",
  "state",
  "vrrp_instance",
  "maxlen",
  "port",
  "ttl",
  "group",
];
const STATES: readonly SyncDaemonState[] = ["vrrp", "master", "backup"];
/** A day: longer idle timeouts only pile up stale connection entries. */
const MAX_TIMEOUT = 86_400;

export function readIpvs(ctx: Ctx, root: TableReader): IpvsConfig {
  const t = root.table("ipvs", IPVS_KEYS);
  if (t === undefined)
    return { timeout_tcp: 0, timeout_tcpfin: 0, timeout_udp: 0, drain_timeout: DEFAULT_DRAIN_TIMEOUT };
  const config: IpvsConfig = {
    timeout_tcp: t.int("timeout_tcp", 0, MAX_TIMEOUT) ?? 0,
    timeout_tcpfin: t.int("timeout_tcpfin", 0, MAX_TIMEOUT) ?? 0,
    timeout_udp: t.int("timeout_udp", 0, MAX_TIMEOUT) ?? 0,
    drain_timeout: t.int("drain_timeout", 0, MAX_TIMEOUT) ?? DEFAULT_DRAIN_TIMEOUT,
  };
  const s = t.table("sync_daemon", SYNC_DAEMON_KEYS);
  if (s === undefined) return config;
  const pos = ctx.sourcePos(s.path);
  s.require("interface", " (the interface sync messages are sent and received on)");
  const state = s.enumOf("state", STATES, "sync daemon state") ?? "vrrp";
  if (state === "vrrp")
    s.require("vrrp_instance", ' (state "vrrp" follows a VRRP instance\'s MASTER/BACKUP state)');
  else s.notAllowed("vrrp_instance", `'vrrp_instance' applies only with state = "vrrp"`);
  const group = s.ip("group");
  if (group !== undefined && !isMulticast(group)) {
    ctx.valueError(
      s.at("group"),
      `'${formatIp(group)}' is not a multicast address (224.0.0.0/4 or ff00::/8)`,
    );
  }
  const daemon: SyncDaemonConfig = {
    interface: s.string("interface", { nonEmpty: true, maxLength: 15 }) ?? "",
    syncid: s.int("syncid", 0, 255) ?? 0,
    state,
    ...optional(
      "vrrp_instance",
      state === "vrrp" ? s.string("vrrp_instance", { nonEmpty: true }) : undefined,
    ),
    ...optional("maxlen", s.int("maxlen", 1, 65507)),
    ...optional("port", s.int("port", 1, 65535)),
    ...optional("ttl", s.int("ttl", 1, 255)),
    ...optional("group", group === undefined ? undefined : formatIp(group)),
    pos,
  };
  return { ...config, sync_daemon: daemon };
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

function isMulticast(ip: IpAddr): boolean {
  if (ip.family === 6) return ip.value >> 120n === 0xffn;
  return ip.value >> 28n === 0xen;
}

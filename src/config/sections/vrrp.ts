// [vrrp.instances.<NAME>] and [vrrp.sync_groups.<NAME>] (keepalived's vrrp_instance and
// vrrp_sync_group). References to interfaces are resolved here; references to services are
// resolved in cross.ts once services are read.

import { DEFAULTS } from "../defaults.ts";
import { didYouMean } from "../errors.ts";
import { type Cidr, formatCidr, formatIp, type IpAddr, sameIp } from "../net.ts";
import type { PathSeg } from "../path.ts";
import {
  type Ctx,
  describe,
  isTable,
  TableReader as Reader,
  readCidr,
  readIp,
  readString,
  type TableReader,
} from "../reader.ts";
import type {
  TrackInterfaceConfig,
  VirtualIpConfig,
  VrrpChecksum,
  VrrpConfig,
  VrrpInstanceConfig,
  VrrpState,
  VrrpSyncGroupConfig,
} from "../types.ts";
import type { ReadInterface } from "./interfaces.ts";

export const VRRP_KEYS = ["instances", "sync_groups"];
export const NOTIFY_KEYS = ["notify", "notify_master", "notify_backup", "notify_fault"] as const;
export const INSTANCE_KEYS = [
  "interface",
  "virtual_router_id",
  "priority",
  "advert_int",
  "version",
  "state",
  "nopreempt",
  "preempt_delay",
  "accept",
  "virtual_ipaddress",
  "unicast_src_ip",
  "unicast_peer",
  "track_interface",
  "track_service",
  "checksum",
  "garp_master_repeat",
  "garp_interval",
  "garp_master_refresh",
  "garp_master_delay",
  "use_vmac",
  ...NOTIFY_KEYS,
];
export const VIP_KEYS = ["address", "dev"];
export const TRACK_KEYS = ["name", "weight"];
export const SYNC_GROUP_KEYS = ["instances", ...NOTIFY_KEYS];
const STATES: readonly VrrpState[] = ["MASTER", "BACKUP"];
const CHECKSUMS: readonly VrrpChecksum[] = ["rfc5798", "v2-compat"];

export interface ReadVrrpInstance {
  readonly config: VrrpInstanceConfig;
  readonly path: PathSeg[];
  readonly vips: ReadonlyArray<{ cidr: Cidr; path: PathSeg[] }>;
  /** path of each track_service entry, in order */
  readonly trackServicePaths: PathSeg[][];
}

export interface ReadVrrp {
  readonly config: VrrpConfig;
  readonly instances: readonly ReadVrrpInstance[];
}

export function readVrrp(ctx: Ctx, root: TableReader, interfaces: readonly ReadInterface[]): ReadVrrp {
  const t = root.table("vrrp", VRRP_KEYS);
  const instances: ReadVrrpInstance[] = [];
  const syncGroups: VrrpSyncGroupConfig[] = [];
  if (t === undefined) return { config: { instances: [], sync_groups: [] }, instances };
  for (const [name, raw, path] of t.entries("instances")) {
    const r = readInstance(ctx, name, raw, path, interfaces);
    if (r !== undefined) instances.push(r);
  }
  checkInstanceUniqueness(ctx, instances);
  const grouped = new Map<string, string>();
  const instanceNames = instances.map((i) => i.config.name);
  for (const [name, raw, path] of t.entries("sync_groups")) {
    const g = Reader.open(ctx, path, raw, SYNC_GROUP_KEYS);
    if (g === undefined) continue;
    g.require("instances", " (the VRRP instances that fail over together)");
    const members =
      g.list("instances", (p, item) => {
        const s = readString(ctx, p, item);
        if (s === undefined) return undefined;
        if (!instanceNames.includes(s)) {
          ctx.valueError(
            p,
            `VRRP instance '${s}' is not defined in [vrrp.instances]${didYouMean(s, instanceNames)}; defined: ${instanceNames.join(", ") || "none"}`,
          );
          return undefined;
        }
        const other = grouped.get(s);
        if (other !== undefined) {
          ctx.valueError(
            p,
            `VRRP instance '${s}' is already in sync group '${other}'; an instance belongs to at most one group`,
          );
          return undefined;
        }
        grouped.set(s, name);
        return s;
      }) ?? [];
    if (Array.isArray(g.get("instances")) && (g.get("instances") as unknown[]).length === 0) {
      ctx.valueError(g.at("instances"), "a sync group needs at least one instance");
    }
    syncGroups.push({ name, instances: members, ...readNotify(g), pos: ctx.sourcePos(path) });
  }
  return { config: { instances: instances.map((i) => i.config), sync_groups: syncGroups }, instances };
}

function readNotify(t: TableReader): Partial<Record<(typeof NOTIFY_KEYS)[number], readonly string[]>> {
  const out: Partial<Record<(typeof NOTIFY_KEYS)[number], readonly string[]>> = {};
  for (const k of NOTIFY_KEYS) {
    const v = t.argv(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function readInstance(
  ctx: Ctx,
  name: string,
  raw: unknown,
  path: PathSeg[],
  interfaces: readonly ReadInterface[],
): ReadVrrpInstance | undefined {
  const t = Reader.open(ctx, path, raw, INSTANCE_KEYS);
  if (t === undefined) return undefined;
  const d = DEFAULTS.vrrp;
  const ifNames = interfaces.map((i) => i.config.name);
  const resolveInterface = (p: PathSeg[], ifname: string): boolean => {
    if (ifNames.includes(ifname)) return true;
    ctx.valueError(
      p,
      `interface '${ifname}' is not defined in [interfaces]${didYouMean(ifname, ifNames)}; defined: ${ifNames.join(", ") || "none"}`,
    );
    return false;
  };

  t.require("interface");
  t.require("virtual_router_id", " (1..255, the same on every box of this VRRP group)");
  t.require("virtual_ipaddress", ' (e.g. ["10.0.0.100/24"])');
  const ifname = t.string("interface", { nonEmpty: true });
  const ifOk = ifname !== undefined && resolveInterface(t.at("interface"), ifname);
  const vrid = t.int("virtual_router_id", 1, 255);
  const priority = t.int("priority", 1, 255) ?? d.priority;
  const versionRaw = t.get("version");
  let version: 2 | 3 = d.version;
  if (versionRaw !== undefined) {
    if (versionRaw === 2 || versionRaw === 3) version = versionRaw;
    else ctx.valueError(t.at("version"), `unsupported VRRP version ${describe(versionRaw)}; allowed: 2, 3`);
  }
  let advertInt: number = d.advert_int;
  if (t.has("advert_int")) {
    const v = t.get("advert_int");
    const p = t.at("advert_int");
    if (version === 3) {
      const cs = typeof v === "number" ? Math.round(v * 100) : Number.NaN;
      if (typeof v !== "number" || v < 0.01 || v > 40.95) {
        ctx.valueError(
          p,
          `advert_int ${describe(v)} is out of range; allowed for VRRPv3: 0.01..40.95 seconds`,
        );
      } else if (Math.abs(cs - v * 100) > 1e-6) {
        ctx.valueError(p, `advert_int ${v} is not a whole number of centiseconds; VRRPv3 counts in 0.01 s`);
      } else {
        advertInt = cs / 100;
      }
    } else if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 255) {
      ctx.valueError(p, `advert_int ${describe(v)} is not allowed for VRRPv2; allowed: whole seconds 1..255`);
    } else {
      advertInt = v;
    }
  }
  const state = t.enumOf("state", STATES, "state") ?? d.state;
  const nopreempt = t.bool("nopreempt") ?? d.nopreempt;
  if (nopreempt && state === "MASTER") {
    ctx.valueError(t.at("nopreempt"), `nopreempt needs state = "BACKUP" (a MASTER start preempts anyway)`);
  }
  const preemptDelay = t.seconds("preempt_delay", 0, 1000) ?? d.preempt_delay;
  const accept = t.bool("accept") ?? d.accept;

  // virtual_ipaddress: "10.0.0.100/24", "10.0.0.100" (a /32 or /128) or { address, dev }
  const vips: Array<{ cidr: Cidr; path: PathSeg[]; dev: string }> = [];
  t.list("virtual_ipaddress", (p, item) => {
    let addrPath = p;
    let addrValue: unknown = item;
    let dev = ifname ?? "";
    if (isTable(item)) {
      const vt = new Reader(ctx, p, item, VIP_KEYS);
      if (!vt.require("address")) return undefined;
      addrPath = vt.at("address");
      addrValue = vt.get("address");
      const devName = vt.string("dev", { nonEmpty: true });
      if (devName !== undefined) {
        if (!resolveInterface(vt.at("dev"), devName)) return undefined;
        dev = devName;
      }
    } else if (typeof item !== "string") {
      ctx.valueError(
        p,
        `expected an address string like "10.0.0.100/24" or a table { address, dev }, got ${describe(item)}`,
      );
      return undefined;
    }
    const c = readCidr(ctx, addrPath, addrValue, true);
    if (c !== undefined) vips.push({ cidr: c, path: addrPath, dev });
    return c;
  });
  if (Array.isArray(t.get("virtual_ipaddress")) && (t.get("virtual_ipaddress") as unknown[]).length === 0) {
    ctx.valueError(t.at("virtual_ipaddress"), "needs at least one virtual address");
  }
  const first = vips[0];
  const family = first?.cidr.addr.family ?? 4;
  for (const v of vips) {
    if (v.cidr.addr.family !== family) {
      ctx.valueError(
        v.path,
        `${formatIp(v.cidr.addr)} is IPv${v.cidr.addr.family} but ${formatIp(first?.cidr.addr ?? v.cidr.addr)} is IPv${family}; one VRRP instance carries one address family (RFC 5798), use two instances`,
      );
    }
  }
  if (version === 2 && family === 6 && vips.length > 0) {
    ctx.valueError(t.at("version"), "VRRPv2 carries IPv4 only; use version = 3 for IPv6 addresses");
  }
  const checksum = t.enumOf("checksum", CHECKSUMS, "checksum mode") ?? d.checksum;
  if (checksum === "v2-compat" && (version !== 3 || family !== 4)) {
    ctx.valueError(t.at("checksum"), `checksum = "v2-compat" applies only to VRRPv3 over IPv4`);
  }

  // Address ownership: priority 255 is reserved for the box whose interfaces hold the VIPs.
  const staticOwner = (ip: IpAddr): string | undefined =>
    interfaces.find((i) => i.cidrs.some((c) => sameIp(c.cidr.addr, ip)))?.config.name;
  if (priority === 255) {
    const notOwned = vips.find((v) => staticOwner(v.cidr.addr) === undefined);
    if (notOwned !== undefined) {
      ctx.valueError(
        t.at("priority"),
        `priority 255 is for the address owner, but ${formatIp(notOwned.cidr.addr)} is not an address of any interface here; allowed: 1..254`,
      );
    }
  } else {
    for (const v of vips) {
      const owner = staticOwner(v.cidr.addr);
      if (owner !== undefined) {
        ctx.valueError(
          v.path,
          `virtual address ${formatIp(v.cidr.addr)} is also a static address of interface '${owner}'; only the address owner (priority = 255) may do that`,
        );
      }
    }
  }

  const seenPeers: IpAddr[] = [];
  const peers =
    t.list("unicast_peer", (p, item) => {
      const ip = readIp(ctx, p, item);
      if (ip !== undefined && vips.length > 0 && ip.family !== family) {
        ctx.valueError(p, `peer ${formatIp(ip)} is IPv${ip.family} but this instance is IPv${family}`);
        return undefined;
      }
      if (ip !== undefined && seenPeers.some((other) => sameIp(other, ip))) {
        ctx.valueError(p, `peer ${formatIp(ip)} is listed twice`);
        return undefined;
      }
      if (ip !== undefined) seenPeers.push(ip);
      return ip;
    }) ?? [];
  const src = t.ip("unicast_src_ip");
  if (src !== undefined) {
    if (peers.length === 0)
      ctx.keyError(t.at("unicast_src_ip"), "unicast_src_ip needs unicast_peer (a list of peer addresses)");
    const iface = interfaces.find((i) => i.config.name === ifname);
    if (vips.length > 0 && src.family !== family) {
      ctx.valueError(
        t.at("unicast_src_ip"),
        `${formatIp(src)} is IPv${src.family} but this instance is IPv${family}`,
      );
    } else if (ifOk && iface !== undefined && !iface.cidrs.some((c) => sameIp(c.cidr.addr, src))) {
      const list = iface.cidrs.map((c) => formatIp(c.cidr.addr));
      ctx.valueError(
        t.at("unicast_src_ip"),
        `${formatIp(src)} is not an address of interface '${ifname}'; its addresses: ${list.join(", ") || "none"}`,
      );
    }
    peers.forEach((peer, i) => {
      if (sameIp(peer, src))
        ctx.valueError(
          [...t.at("unicast_peer"), i],
          `peer ${formatIp(peer)} is this box's own unicast_src_ip`,
        );
    });
  }

  const track: TrackInterfaceConfig[] =
    t.list("track_interface", (p, item) => {
      if (typeof item === "string") {
        return resolveInterface(p, item) ? { name: item, weight: d.track_interface_weight } : undefined;
      }
      const tt = Reader.open(ctx, p, item, TRACK_KEYS);
      if (tt === undefined || !tt.require("name")) return undefined;
      const n = tt.string("name", { nonEmpty: true });
      const w = tt.int("weight", -254, 254) ?? d.track_interface_weight;
      return n !== undefined && resolveInterface(tt.at("name"), n) ? { name: n, weight: w } : undefined;
    }) ?? [];
  const trackServicePaths: PathSeg[][] = [];
  const trackService =
    t.list("track_service", (p, item) => {
      const s = readString(ctx, p, item, { nonEmpty: true });
      if (s !== undefined) trackServicePaths.push(p);
      return s;
    }) ?? [];

  const config: VrrpInstanceConfig = {
    name,
    interface: ifname ?? "",
    virtual_router_id: vrid ?? 0,
    priority,
    advert_int: advertInt,
    version,
    family: family === 4 ? "inet" : "inet6",
    state,
    nopreempt,
    preempt_delay: preemptDelay,
    accept,
    virtual_ipaddress: vips.map(
      (v): VirtualIpConfig => ({ cidr: formatCidr(v.cidr), address: formatIp(v.cidr.addr), dev: v.dev }),
    ),
    ...(src === undefined ? {} : { unicast_src_ip: formatIp(src) }),
    unicast_peer: peers.map(formatIp),
    track_interface: track,
    track_service: trackService,
    checksum,
    garp_master_repeat: t.int("garp_master_repeat", 0, 255) ?? d.garp_master_repeat,
    garp_interval: t.seconds("garp_interval", 0, 10) ?? d.garp_interval,
    garp_master_refresh: t.int("garp_master_refresh", 0, 86400) ?? d.garp_master_refresh,
    garp_master_delay: t.int("garp_master_delay", 0, 86400) ?? d.garp_master_delay,
    use_vmac: t.bool("use_vmac") ?? d.use_vmac,
    ...readNotify(t),
    pos: ctx.sourcePos(path),
  };
  return { config, path, vips, trackServicePaths };
}

function checkInstanceUniqueness(ctx: Ctx, instances: readonly ReadVrrpInstance[]): void {
  const vrids = new Map<string, string>();
  const vipOwners: Array<{ ip: IpAddr; instance: string }> = [];
  for (const i of instances) {
    const c = i.config;
    if (c.interface !== "" && c.virtual_router_id !== 0) {
      const key = `${c.interface}/${c.family}/${c.virtual_router_id}`;
      const other = vrids.get(key);
      if (other !== undefined) {
        ctx.valueError(
          [...i.path, "virtual_router_id"],
          `virtual_router_id ${c.virtual_router_id} is already used by instance '${other}' on ${c.interface} (${c.family}); it must be unique per interface and family`,
        );
      } else {
        vrids.set(key, c.name);
      }
    }
    for (const v of i.vips) {
      const dup = vipOwners.find((o) => sameIp(o.ip, v.cidr.addr));
      if (dup !== undefined) {
        ctx.valueError(
          v.path,
          `virtual address ${formatIp(v.cidr.addr)} is already carried by instance '${dup.instance}'`,
        );
      } else {
        vipOwners.push({ ip: v.cidr.addr, instance: c.name });
      }
    }
  }
}

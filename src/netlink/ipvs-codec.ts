// The IPVS generic-netlink family (linux/ip_vs.h): attribute schemas and the mapping between typed
// services/destinations (src/ipvs/model.ts) and netlink attributes. Pure: no sockets here.
import type {
  AddressFamily,
  DestKey,
  DestSpec,
  ForwardMethod,
  IpvsProtocol,
  IpvsStats,
  KernelDest,
  KernelService,
  Scheduler,
  ServiceKey,
  ServiceOptions,
  TunnelType,
} from "../ipvs/model.ts";
import { SCHEDULERS } from "../ipvs/model.ts";
import { type AttrSchema, type Decoded, decodeAttrs, encodeAttrs, NlWriter } from "./attrs.ts";
import { NetlinkDecodeError, NetlinkEncodeError } from "./errors.ts";
import { formatIp, parseIp } from "./ipaddr.ts";

export const IPVS_GENL_NAME = "IPVS";
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

const SVC_F = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10 } as const;
const FWD = { nat: 0, tun: 2, dr: 3 } as const satisfies Record<ForwardMethod, number>;
const FWD_MASK = 0x7;
const TUN_TYPE = { ipip: 0, gue: 1, gre: 2 } as const satisfies Record<TunnelType, number>;
const PROTO = { tcp: 6, udp: 17, sctp: 132 } as const satisfies Record<IpvsProtocol, number>;
const AF_INET = 2;
const AF_INET6 = 10;
/** union nf_inet_addr: always 16 bytes on the wire; IPv4 uses the first 4. */
const INET_ADDR_BYTES = 16;

const STATS64: AttrSchema = {
  conns: { type: 1, kind: "u64" },
  inPackets: { type: 2, kind: "u64" },
  outPackets: { type: 3, kind: "u64" },
  inBytes: { type: 4, kind: "u64" },
  outBytes: { type: 5, kind: "u64" },
  cps: { type: 6, kind: "u64" },
  inPps: { type: 7, kind: "u64" },
  outPps: { type: 8, kind: "u64" },
  inBps: { type: 9, kind: "u64" },
  outBps: { type: 10, kind: "u64" },
};

const SERVICE = {
  af: { type: 1, kind: "u16" },
  protocol: { type: 2, kind: "u16" },
  addr: { type: 3, kind: "binary", maxBytes: INET_ADDR_BYTES },
  port: { type: 4, kind: "be16" },
  fwmark: { type: 5, kind: "u32" },
  schedName: { type: 6, kind: "nulstring", maxBytes: 16 },
  flags: { type: 7, kind: "binary", maxBytes: 8 },
  timeout: { type: 8, kind: "u32" },
  netmask: { type: 9, kind: "binary", maxBytes: 4 },
  peName: { type: 11, kind: "nulstring", maxBytes: 16 },
  stats64: { type: 12, kind: "nested", nested: STATS64 },
} as const satisfies AttrSchema;

const DEST = {
  addr: { type: 1, kind: "binary", maxBytes: INET_ADDR_BYTES },
  port: { type: 2, kind: "be16" },
  fwdMethod: { type: 3, kind: "u32" },
  weight: { type: 4, kind: "s32" },
  uThresh: { type: 5, kind: "u32" },
  lThresh: { type: 6, kind: "u32" },
  activeConns: { type: 7, kind: "u32" },
  inactConns: { type: 8, kind: "u32" },
  persistConns: { type: 9, kind: "u32" },
  addrFamily: { type: 11, kind: "u16" },
  stats64: { type: 12, kind: "nested", nested: STATS64 },
  tunType: { type: 13, kind: "u8" },
  tunPort: { type: 14, kind: "be16" },
  tunFlags: { type: 15, kind: "u16" },
} as const satisfies AttrSchema;

const DAEMON = {
  state: { type: 1, kind: "u32" },
  mcastIfn: { type: 2, kind: "nulstring", maxBytes: 16 },
  syncId: { type: 3, kind: "u32" },
  syncMaxlen: { type: 4, kind: "u16" },
  mcastGroup: { type: 5, kind: "binary", maxBytes: 4 },
  mcastGroup6: { type: 6, kind: "binary", maxBytes: 16 },
  mcastPort: { type: 7, kind: "u16" },
  mcastTtl: { type: 8, kind: "u8" },
} as const satisfies AttrSchema;

const INFO = {
  version: { type: 1, kind: "u32" },
  connTabSize: { type: 2, kind: "u32" },
} as const satisfies AttrSchema;

const CMD = {
  service: { type: 1, kind: "nested", nested: SERVICE },
  dest: { type: 2, kind: "nested", nested: DEST },
  daemon: { type: 3, kind: "nested", nested: DAEMON },
  timeoutTcp: { type: 4, kind: "u32" },
  timeoutTcpFin: { type: 5, kind: "u32" },
  timeoutUdp: { type: 6, kind: "u32" },
} as const satisfies AttrSchema;

/** The top level of a reply: either command attributes or, for GET_INFO, info attributes. */
export type IpvsCmdAttrs = Decoded<typeof CMD>;

export interface IpvsTimeouts {
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

export interface IpvsInfo {
  readonly version: string;
  readonly connTableSize: number;
}

export interface SyncDaemonSpec {
  readonly state: "master" | "backup";
  readonly interface: string;
  readonly syncId: number;
  /** UDP payload size of sync messages; 0 = the kernel's default (from the interface MTU). */
  readonly maxLength?: number;
  readonly mcastGroup?: string;
  readonly mcastPort?: number;
  readonly mcastTtl?: number;
}

export type SyncDaemonStatus = Required<Omit<SyncDaemonSpec, "mcastGroup">> & { readonly mcastGroup: string };

// ---- messages ----------------------------------------------------------------------------------

/** genlmsghdr + attributes, ready to be the payload of a netlink message of the IPVS family type. */
export function ipvsMessage(cmd: number, attrs: IpvsCmdAttrs = {}): Uint8Array {
  const w = new NlWriter(128);
  w.raw(new Uint8Array([cmd, IPVS_GENL_VERSION, 0, 0]));
  encodeAttrs(w, CMD, attrs);
  return w.finish();
}

/** Splits a reply payload into its genl command and decoded attributes. */
export function decodeIpvsReply(payload: Uint8Array): { cmd: number; attrs: IpvsCmdAttrs } {
  if (payload.byteLength < 4) throw new NetlinkDecodeError(0, "IPVS reply shorter than genlmsghdr");
  return { cmd: payload[0]!, attrs: decodeAttrs(CMD, payload.subarray(4), 4) };
}

export function decodeIpvsInfo(payload: Uint8Array): IpvsInfo {
  if (payload.byteLength < 4) throw new NetlinkDecodeError(0, "IPVS info shorter than genlmsghdr");
  const info = decodeAttrs(INFO, payload.subarray(4), 4);
  const v = info.version ?? 0;
  return {
    version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`,
    connTableSize: info.connTabSize ?? 0,
  };
}

// ---- services ----------------------------------------------------------------------------------

export function encodeServiceKey(key: ServiceKey): Decoded<typeof SERVICE> {
  const af = key.family === 4 ? AF_INET : AF_INET6;
  if (key.kind === "fwmark") {
    if (!Number.isInteger(key.fwmark) || key.fwmark < 1 || key.fwmark > 0xffffffff) {
      throw new NetlinkEncodeError(`bad fwmark ${key.fwmark}`);
    }
    return { af, fwmark: key.fwmark };
  }
  checkPort(key.port);
  return { af, protocol: PROTO[key.protocol], addr: inetAddr(key.address, key.family), port: key.port };
}

export function encodeService(key: ServiceKey, o: ServiceOptions): Decoded<typeof SERVICE> {
  let flags = 0;
  if (o.persistenceTimeout > 0) flags |= SVC_F.PERSISTENT;
  if (o.onePacket) flags |= SVC_F.ONEPACKET;
  if (o.schedFallback) flags |= SVC_F.SCHED1;
  if (o.schedPort) flags |= SVC_F.SCHED2;
  const flagBytes = new Uint8Array(8);
  const fv = new DataView(flagBytes.buffer);
  fv.setUint32(0, flags, true);
  // Every flag we manage is in the mask; HASHED is the kernel's own and stays out of it.
  fv.setUint32(4, 0xffffffff & ~SVC_F.HASHED, true);
  const out: Decoded<typeof SERVICE> = {
    ...encodeServiceKey(key),
    schedName: o.scheduler,
    flags: flagBytes,
    timeout: o.persistenceTimeout,
    netmask: encodeNetmask(key.family, o.persistenceNetmask),
  };
  if (o.persistenceEngine !== undefined) out.peName = o.persistenceEngine;
  return out;
}

export function decodeService(s: Decoded<typeof SERVICE>, dests: readonly KernelDest[] = []): KernelService {
  const family = familyOf(s.af);
  const key: ServiceKey =
    s.fwmark !== undefined && s.fwmark !== 0
      ? { kind: "fwmark", family, fwmark: s.fwmark }
      : {
          kind: "addr",
          family,
          protocol: protocolOf(s.protocol),
          address: addrOf(s.addr, family),
          port: s.port ?? 0,
        };
  const flags =
    s.flags && s.flags.byteLength >= 4
      ? new DataView(s.flags.buffer, s.flags.byteOffset).getUint32(0, true)
      : 0;
  const sched = s.schedName ?? "";
  if (!(SCHEDULERS as readonly string[]).includes(sched)) {
    throw new NetlinkDecodeError(0, `IPVS service with unknown scheduler ${JSON.stringify(sched)}`);
  }
  const options: ServiceOptions = {
    scheduler: sched as Scheduler,
    persistenceTimeout: flags & SVC_F.PERSISTENT ? (s.timeout ?? 0) : 0,
    persistenceNetmask: decodeNetmask(family, s.netmask),
    ...(s.peName ? { persistenceEngine: "sip" as const } : {}),
    onePacket: (flags & SVC_F.ONEPACKET) !== 0,
    schedFallback: (flags & SVC_F.SCHED1) !== 0,
    schedPort: (flags & SVC_F.SCHED2) !== 0,
  };
  return { key, options, dests, ...(s.stats64 ? { stats: statsOf(s.stats64) } : {}) };
}

// ---- destinations ------------------------------------------------------------------------------

export function encodeDestKey(d: DestKey): Decoded<typeof DEST> {
  checkPort(d.port);
  return {
    addrFamily: d.family === 4 ? AF_INET : AF_INET6,
    addr: inetAddr(d.address, d.family),
    port: d.port,
  };
}

export function encodeDest(d: DestSpec): Decoded<typeof DEST> {
  if (!Number.isInteger(d.weight) || d.weight < 0 || d.weight > 0x7fffffff) {
    throw new NetlinkEncodeError(`bad weight ${d.weight}`);
  }
  const out: Decoded<typeof DEST> = {
    ...encodeDestKey(d),
    fwdMethod: FWD[d.method],
    weight: d.weight,
    uThresh: d.upperThreshold,
    lThresh: d.lowerThreshold,
  };
  if (d.method === "tun") {
    out.tunType = TUN_TYPE[d.tunnelType];
    out.tunPort = d.tunnelPort;
    out.tunFlags = d.tunnelFlags;
  }
  return out;
}

export function decodeDest(d: Decoded<typeof DEST>, serviceFamily: AddressFamily): KernelDest {
  const family = d.addrFamily === undefined ? serviceFamily : familyOf(d.addrFamily);
  const fwd = (d.fwdMethod ?? 0) & FWD_MASK;
  const method = (Object.keys(FWD) as ForwardMethod[]).find((m) => FWD[m] === fwd);
  if (method === undefined) throw new NetlinkDecodeError(0, `IPVS destination with forwarding method ${fwd}`);
  const tunType = (Object.keys(TUN_TYPE) as TunnelType[]).find((t) => TUN_TYPE[t] === (d.tunType ?? 0));
  return {
    family,
    address: addrOf(d.addr, family),
    port: d.port ?? 0,
    method,
    weight: d.weight ?? 0,
    upperThreshold: d.uThresh ?? 0,
    lowerThreshold: d.lThresh ?? 0,
    tunnelType: tunType ?? "ipip",
    tunnelPort: d.tunPort ?? 0,
    tunnelFlags: d.tunFlags ?? 0,
    activeConns: d.activeConns ?? 0,
    inactiveConns: d.inactConns ?? 0,
    persistentConns: d.persistConns ?? 0,
    ...(d.stats64 ? { stats: statsOf(d.stats64) } : {}),
  };
}

// ---- sync daemon -------------------------------------------------------------------------------

export function encodeDaemon(spec: SyncDaemonSpec): Decoded<typeof DAEMON> {
  if (spec.interface.length === 0 || spec.interface.length > 15) {
    throw new NetlinkEncodeError(`bad sync daemon interface ${JSON.stringify(spec.interface)}`);
  }
  if (!Number.isInteger(spec.syncId) || spec.syncId < 0 || spec.syncId > 255) {
    throw new NetlinkEncodeError(`bad sync id ${spec.syncId}`);
  }
  const out: Decoded<typeof DAEMON> = {
    state: spec.state === "master" ? 1 : 2,
    mcastIfn: spec.interface,
    syncId: spec.syncId,
  };
  if (spec.maxLength !== undefined) out.syncMaxlen = spec.maxLength;
  if (spec.mcastPort !== undefined) out.mcastPort = spec.mcastPort;
  if (spec.mcastTtl !== undefined) out.mcastTtl = spec.mcastTtl;
  if (spec.mcastGroup !== undefined) {
    const g = parseIp(spec.mcastGroup);
    if (g.family === 4) out.mcastGroup = g.bytes;
    else out.mcastGroup6 = g.bytes;
  }
  return out;
}

export function decodeDaemon(d: Decoded<typeof DAEMON>): SyncDaemonStatus {
  const group = d.mcastGroup6 ?? d.mcastGroup;
  return {
    state: d.state === 1 ? "master" : "backup",
    interface: d.mcastIfn ?? "",
    syncId: d.syncId ?? 0,
    maxLength: d.syncMaxlen ?? 0,
    mcastGroup: group ? formatIp(group) : "",
    mcastPort: d.mcastPort ?? 0,
    mcastTtl: d.mcastTtl ?? 0,
  };
}

// ---- helpers -----------------------------------------------------------------------------------

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new NetlinkEncodeError(`bad port ${port}`);
}

/** Parsed addresses, reused: a large table names the same VIPs and real servers many times. Bounded. */
const inetAddrCache = new Map<string, Uint8Array>();
const INET_ADDR_CACHE_MAX = 65_536;

function inetAddr(address: string, family: AddressFamily): Uint8Array {
  const key = `${family}/${address}`;
  const cached = inetAddrCache.get(key);
  if (cached) return cached;
  const ip = parseIp(address);
  if (ip.family !== family) throw new NetlinkEncodeError(`${address} is not an IPv${family} address`);
  const out = new Uint8Array(INET_ADDR_BYTES);
  out.set(ip.bytes);
  if (inetAddrCache.size >= INET_ADDR_CACHE_MAX) inetAddrCache.clear();
  inetAddrCache.set(key, out);
  return out;
}

function addrOf(bytes: Uint8Array | undefined, family: AddressFamily): string {
  const need = family === 4 ? 4 : 16;
  if (!bytes || bytes.byteLength < need) throw new NetlinkDecodeError(0, "IPVS address attribute too short");
  return formatIp(bytes.subarray(0, need));
}

function familyOf(af: number | undefined): AddressFamily {
  if (af === AF_INET) return 4;
  if (af === AF_INET6) return 6;
  throw new NetlinkDecodeError(0, `IPVS entry with address family ${af}`);
}

function protocolOf(p: number | undefined): IpvsProtocol {
  const name = (Object.keys(PROTO) as IpvsProtocol[]).find((k) => PROTO[k] === p);
  if (name === undefined) throw new NetlinkDecodeError(0, `IPVS service with protocol ${p}`);
  return name;
}

/** IPv4: the mask as 4 bytes in network order. IPv6: the prefix length as a host-order u32 (as ipvsadm). */
function encodeNetmask(family: AddressFamily, mask: string): Uint8Array {
  const out = new Uint8Array(4);
  if (family === 4) {
    const ip = parseIp(mask);
    if (ip.family !== 4) throw new NetlinkEncodeError(`bad IPv4 persistence netmask ${mask}`);
    out.set(ip.bytes);
    return out;
  }
  const prefix = Number(mask);
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) {
    throw new NetlinkEncodeError(`bad IPv6 persistence prefix ${mask}`);
  }
  new DataView(out.buffer).setUint32(0, prefix, true);
  return out;
}

function decodeNetmask(family: AddressFamily, bytes: Uint8Array | undefined): string {
  if (!bytes || bytes.byteLength < 4) return family === 4 ? "255.255.255.255" : "128";
  if (family === 4) return formatIp(bytes.subarray(0, 4));
  return String(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true));
}

function statsOf(s: Decoded<typeof STATS64>): IpvsStats {
  const z = 0n;
  const v = s as Record<string, bigint | undefined>;
  return {
    conns: v["conns"] ?? z,
    inPackets: v["inPackets"] ?? z,
    outPackets: v["outPackets"] ?? z,
    inBytes: v["inBytes"] ?? z,
    outBytes: v["outBytes"] ?? z,
    cps: v["cps"] ?? z,
    inPps: v["inPps"] ?? z,
    outPps: v["outPps"] ?? z,
    inBps: v["inBps"] ?? z,
    outBps: v["outBps"] ?? z,
  };
}

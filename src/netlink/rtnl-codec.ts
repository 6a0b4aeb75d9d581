// rtnetlink message bodies: the fixed headers (ifinfomsg, ifaddrmsg, rtmsg), attribute schemas, and
// decoders into typed Link/Address/Route values. Pure: no sockets here.
import { AF } from "../../ffi/constants.ts";
import { type AttrSchema, type Decoded, decodeAttrs } from "./attrs.ts";
import { NLMSG_HDRLEN } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIp, formatMac, type IpFamily } from "./ipaddr.ts";
import type { NlMessage } from "./message.ts";
import { IFF, MACVLAN_MODE, type MacvlanMode, OPERSTATES, type OperState, RTM } from "./rtnl-constants.ts";

export const IFINFOMSG_BYTES = 16;
export const IFADDRMSG_BYTES = 8;
export const RTMSG_BYTES = 12;

// ---------------------------------------------------------------------------------------------------
// Fixed headers

export interface IfInfoMsg {
  readonly family: number;
  readonly type: number;
  readonly index: number;
  readonly flags: number;
  readonly change: number;
}

export function encodeIfInfoMsg(h: Partial<IfInfoMsg>): Uint8Array {
  const b = new Uint8Array(IFINFOMSG_BYTES);
  const v = new DataView(b.buffer);
  v.setUint8(0, h.family ?? AF.UNSPEC);
  v.setUint16(2, h.type ?? 0, true);
  v.setInt32(4, h.index ?? 0, true);
  v.setUint32(8, h.flags ?? 0, true);
  v.setUint32(12, h.change ?? 0, true);
  return b;
}

function header(payload: Uint8Array, size: number, what: string): DataView {
  if (payload.byteLength < size) {
    throw new NetlinkDecodeError(NLMSG_HDRLEN, `${what} needs ${size} bytes, got ${payload.byteLength}`);
  }
  return new DataView(payload.buffer, payload.byteOffset, size);
}

export function decodeIfInfoMsg(payload: Uint8Array): IfInfoMsg {
  const v = header(payload, IFINFOMSG_BYTES, "ifinfomsg");
  return {
    family: v.getUint8(0),
    type: v.getUint16(2, true),
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    change: v.getUint32(12, true),
  };
}

export interface IfAddrMsg {
  readonly family: number;
  readonly prefixLength: number;
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
}

export function encodeIfAddrMsg(h: IfAddrMsg): Uint8Array {
  const b = new Uint8Array(IFADDRMSG_BYTES);
  const v = new DataView(b.buffer);
  v.setUint8(0, h.family);
  v.setUint8(1, h.prefixLength);
  v.setUint8(2, h.flags & 0xff);
  v.setUint8(3, h.scope);
  v.setUint32(4, h.index, true);
  return b;
}

export function decodeIfAddrMsg(payload: Uint8Array): IfAddrMsg {
  const v = header(payload, IFADDRMSG_BYTES, "ifaddrmsg");
  return {
    family: v.getUint8(0),
    prefixLength: v.getUint8(1),
    flags: v.getUint8(2),
    scope: v.getUint8(3),
    index: v.getUint32(4, true),
  };
}

export interface RtMsg {
  readonly family: number;
  readonly dstLength: number;
  readonly srcLength: number;
  readonly tos: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
}

export function encodeRtMsg(h: RtMsg): Uint8Array {
  const b = new Uint8Array(RTMSG_BYTES);
  const v = new DataView(b.buffer);
  [h.family, h.dstLength, h.srcLength, h.tos, h.table, h.protocol, h.scope, h.type].forEach((x, i) => {
    v.setUint8(i, x);
  });
  v.setUint32(8, h.flags, true);
  return b;
}

export function decodeRtMsg(payload: Uint8Array): RtMsg {
  const v = header(payload, RTMSG_BYTES, "rtmsg");
  return {
    family: v.getUint8(0),
    dstLength: v.getUint8(1),
    srcLength: v.getUint8(2),
    tos: v.getUint8(3),
    table: v.getUint8(4),
    protocol: v.getUint8(5),
    scope: v.getUint8(6),
    type: v.getUint8(7),
    flags: v.getUint32(8, true),
  };
}

// ---------------------------------------------------------------------------------------------------
// Attribute schemas

export const LINKINFO_SCHEMA = {
  kind: { type: 1, kind: "string", maxBytes: 64 },
  data: { type: 2, kind: "binary" },
  slaveKind: { type: 4, kind: "string", maxBytes: 64 },
} as const satisfies AttrSchema;

export const LINK_SCHEMA = {
  address: { type: 1, kind: "binary", maxBytes: 32 },
  broadcast: { type: 2, kind: "binary", maxBytes: 32 },
  ifname: { type: 3, kind: "string", maxBytes: 16 },
  mtu: { type: 4, kind: "u32" },
  link: { type: 5, kind: "u32" },
  master: { type: 10, kind: "u32" },
  txqlen: { type: 13, kind: "u32" },
  operstate: { type: 16, kind: "u8" },
  linkmode: { type: 17, kind: "u8" },
  linkinfo: { type: 18, kind: "nested", nested: LINKINFO_SCHEMA },
  ifalias: { type: 20, kind: "string", maxBytes: 256 },
  group: { type: 27, kind: "u32" },
  carrier: { type: 33, kind: "u8" },
  linkNetnsid: { type: 37, kind: "s32" },
  minMtu: { type: 50, kind: "u32" },
  maxMtu: { type: 51, kind: "u32" },
  permAddress: { type: 54, kind: "binary", maxBytes: 32 },
} as const satisfies AttrSchema;

export const VLAN_SCHEMA = {
  id: { type: 1, kind: "u16" },
  protocol: { type: 5, kind: "be16" },
} as const satisfies AttrSchema;

export const MACVLAN_SCHEMA = {
  mode: { type: 1, kind: "u32" },
  flags: { type: 2, kind: "u16" },
} as const satisfies AttrSchema;

export const ADDR_SCHEMA = {
  address: { type: 1, kind: "binary", maxBytes: 16 },
  local: { type: 2, kind: "binary", maxBytes: 16 },
  label: { type: 3, kind: "string", maxBytes: 16 },
  broadcast: { type: 4, kind: "binary", maxBytes: 16 },
  cacheinfo: { type: 6, kind: "binary" },
  flags: { type: 8, kind: "u32" },
  proto: { type: 11, kind: "u8" },
} as const satisfies AttrSchema;

export const ROUTE_SCHEMA = {
  dst: { type: 1, kind: "binary", maxBytes: 16 },
  src: { type: 2, kind: "binary", maxBytes: 16 },
  iif: { type: 3, kind: "u32" },
  oif: { type: 4, kind: "u32" },
  gateway: { type: 5, kind: "binary", maxBytes: 16 },
  priority: { type: 6, kind: "u32" },
  prefsrc: { type: 7, kind: "binary", maxBytes: 16 },
  multipath: { type: 9, kind: "binary" },
  table: { type: 15, kind: "u32" },
  via: { type: 18, kind: "binary", maxBytes: 18 },
  pref: { type: 20, kind: "u8" },
} as const satisfies AttrSchema;

// ---------------------------------------------------------------------------------------------------
// Typed values

export interface Link {
  readonly index: number;
  readonly name: string;
  /** IFLA_INFO_KIND ("veth", "vlan", "macvlan", "dummy", ...); undefined for plain hardware NICs. */
  readonly kind?: string;
  readonly flags: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  readonly lowerUp: boolean;
  readonly operState: OperState;
  readonly mtu?: number;
  readonly mac?: string;
  /** IFLA_LINK: parent (vlan/macvlan) or peer (veth) ifindex; may live in another namespace. */
  readonly parentIndex?: number;
  readonly master?: number;
  readonly vlanId?: number;
  readonly macvlanMode?: MacvlanMode;
}

export function decodeLink(m: NlMessage): Link {
  const h = decodeIfInfoMsg(m.payload);
  const a = decodeAttrs(LINK_SCHEMA, m.payload.subarray(IFINFOMSG_BYTES), NLMSG_HDRLEN + IFINFOMSG_BYTES);
  if (a.ifname === undefined)
    throw new NetlinkDecodeError(NLMSG_HDRLEN, `link ${h.index} without IFLA_IFNAME`);
  const kind = a.linkinfo?.kind;
  const info = linkInfoData(kind, a.linkinfo);
  return {
    index: h.index,
    name: a.ifname,
    flags: h.flags,
    up: (h.flags & IFF.UP) !== 0,
    lowerUp: (h.flags & IFF.LOWER_UP) !== 0,
    operState: OPERSTATES[a.operstate ?? 0] ?? "unknown",
    ...(kind !== undefined && { kind }),
    ...(a.mtu !== undefined && { mtu: a.mtu }),
    ...(a.address !== undefined && a.address.byteLength > 0 && { mac: formatMac(a.address) }),
    ...(a.link !== undefined && { parentIndex: a.link }),
    ...(a.master !== undefined && { master: a.master }),
    ...info,
  };
}

function linkInfoData(
  kind: string | undefined,
  info: Decoded<typeof LINKINFO_SCHEMA> | undefined,
): { vlanId?: number; macvlanMode?: MacvlanMode } {
  if (!info?.data) return {};
  if (kind === "vlan") {
    const d = decodeAttrs(VLAN_SCHEMA, info.data);
    return d.id === undefined ? {} : { vlanId: d.id };
  }
  if (kind === "macvlan") {
    const d = decodeAttrs(MACVLAN_SCHEMA, info.data);
    const mode = (Object.keys(MACVLAN_MODE) as MacvlanMode[]).find((k) => MACVLAN_MODE[k] === d.mode);
    return mode === undefined ? {} : { macvlanMode: mode };
  }
  return {};
}

export interface Address {
  readonly index: number;
  readonly family: IpFamily;
  /** The interface's own address (IFA_LOCAL for IPv4, IFA_ADDRESS for IPv6). */
  readonly address: string;
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
  readonly scope: number;
  readonly flags: number;
  readonly label?: string;
  /** Peer address of point-to-point links when it differs from the local one. */
  readonly peer?: string;
}

function familyOf(af: number, offset: number): IpFamily {
  if (af === AF.INET) return 4;
  if (af === AF.INET6) return 6;
  throw new NetlinkDecodeError(offset, `unsupported address family ${af}`);
}

function ipBytes(family: IpFamily, b: Uint8Array | undefined, what: string): Uint8Array | undefined {
  if (b === undefined) return undefined;
  const want = family === 4 ? 4 : 16;
  if (b.byteLength !== want)
    throw new NetlinkDecodeError(NLMSG_HDRLEN, `${what}: ${b.byteLength} bytes for IPv${family}`);
  return b;
}

export function decodeAddress(m: NlMessage): Address {
  const h = decodeIfAddrMsg(m.payload);
  const family = familyOf(h.family, NLMSG_HDRLEN);
  const a = decodeAttrs(ADDR_SCHEMA, m.payload.subarray(IFADDRMSG_BYTES), NLMSG_HDRLEN + IFADDRMSG_BYTES);
  const local = ipBytes(family, a.local, "IFA_LOCAL");
  const address = ipBytes(family, a.address, "IFA_ADDRESS");
  const own = local ?? address;
  if (!own) throw new NetlinkDecodeError(NLMSG_HDRLEN, "address message without IFA_LOCAL/IFA_ADDRESS");
  const peer = local && address && formatIp(local) !== formatIp(address) ? formatIp(address) : undefined;
  return {
    index: h.index,
    family,
    address: formatIp(own),
    bytes: own,
    prefixLength: h.prefixLength,
    scope: h.scope,
    flags: a.flags ?? h.flags,
    ...(a.label !== undefined && { label: a.label }),
    ...(peer !== undefined && { peer }),
  };
}

export interface Route {
  readonly family: IpFamily;
  /** Destination prefix, e.g. "0.0.0.0/0" or "2001:db8::/64". */
  readonly dst: string;
  readonly dstLength: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly oif?: number;
  readonly gateway?: string;
  readonly priority?: number;
  readonly prefsrc?: string;
}

export function decodeRoute(m: NlMessage): Route {
  const h = decodeRtMsg(m.payload);
  const family = familyOf(h.family, NLMSG_HDRLEN);
  const a = decodeAttrs(ROUTE_SCHEMA, m.payload.subarray(RTMSG_BYTES), NLMSG_HDRLEN + RTMSG_BYTES);
  const dst = ipBytes(family, a.dst, "RTA_DST") ?? new Uint8Array(family === 4 ? 4 : 16);
  const gw = ipBytes(family, a.gateway, "RTA_GATEWAY");
  const prefsrc = ipBytes(family, a.prefsrc, "RTA_PREFSRC");
  return {
    family,
    dst: `${formatIp(dst)}/${h.dstLength}`,
    dstLength: h.dstLength,
    table: a.table ?? h.table,
    protocol: h.protocol,
    scope: h.scope,
    type: h.type,
    ...(a.oif !== undefined && { oif: a.oif }),
    ...(gw !== undefined && { gateway: formatIp(gw) }),
    ...(a.priority !== undefined && { priority: a.priority }),
    ...(prefsrc !== undefined && { prefsrc: formatIp(prefsrc) }),
  };
}

export type RtnlEvent =
  | { readonly kind: "link"; readonly op: "new" | "del"; readonly link: Link }
  | { readonly kind: "address"; readonly op: "new" | "del"; readonly address: Address }
  | { readonly kind: "route"; readonly op: "new" | "del"; readonly route: Route };

/** Decodes any rtnetlink notification or dump reply we understand; null for other message types. */
export function decodeRtnlMessage(m: NlMessage): RtnlEvent | null {
  switch (m.type) {
    case RTM.NEWLINK:
    case RTM.DELLINK:
      return { kind: "link", op: m.type === RTM.NEWLINK ? "new" : "del", link: decodeLink(m) };
    case RTM.NEWADDR:
    case RTM.DELADDR:
      return { kind: "address", op: m.type === RTM.NEWADDR ? "new" : "del", address: decodeAddress(m) };
    case RTM.NEWROUTE:
    case RTM.DELROUTE:
      return { kind: "route", op: m.type === RTM.NEWROUTE ? "new" : "del", route: decodeRoute(m) };
    default:
      return null;
  }
}

// VRRP packet codec: VRRPv3 (RFC 5798 section 5) for IPv4 and IPv6, VRRPv2 (RFC 3768) for IPv4.
// Pure functions over bytes. Decoding never throws: it returns a typed reason that the receive path counts.
import { type Family, formatIP, parseIP } from "./addr.ts";
import type { ChecksumMode, OutgoingAdvert, VrrpVersion } from "./types.ts";
import { VRRP_PROTOCOL } from "./types.ts";

export const VRRP_HEADER_LEN = 8;
export const V2_AUTH_DATA_LEN = 8;
const TYPE_ADVERTISEMENT = 1;

/** One's-complement sum of byte ranges, folded; 0 over a packet whose checksum field is right. */
export function internetChecksum(parts: readonly Uint8Array[]): number {
  let sum = 0;
  let odd = false; // a part of odd length shifts the byte pairing of the next one
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      sum += odd ? p[i]! : p[i]! << 8;
      odd = !odd;
    }
    // Fold often enough that the sum stays a small integer even for 64 KiB inputs.
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeader(family: Family, src: string, dst: string, length: number): Uint8Array {
  if (family === 4) {
    const ph = new Uint8Array(12);
    ph.set(parseIP(src), 0);
    ph.set(parseIP(dst), 4);
    ph[9] = VRRP_PROTOCOL;
    ph[10] = length >> 8;
    ph[11] = length & 0xff;
    return ph;
  }
  const ph = new Uint8Array(40);
  ph.set(parseIP(src), 0);
  ph.set(parseIP(dst), 16);
  new DataView(ph.buffer).setUint32(32, length);
  ph[39] = VRRP_PROTOCOL;
  return ph;
}

/** Which checksum the packet carries: v2 and "v2-compat" v3 cover the VRRP message only. */
function checksumParts(
  version: VrrpVersion,
  family: Family,
  mode: ChecksumMode,
  src: string,
  dst: string,
  msg: Uint8Array,
): Uint8Array[] {
  const withPseudo = version === 3 && (family === 6 || mode === "rfc5798");
  return withPseudo ? [pseudoHeader(family, src, dst, msg.length), msg] : [msg];
}

export function advertLength(version: VrrpVersion, family: Family, count: number): number {
  return VRRP_HEADER_LEN + count * (family === 4 ? 4 : 16) + (version === 2 ? V2_AUTH_DATA_LEN : 0);
}

/** Encode an advertisement for one destination (the checksum covers src/dst in VRRPv3). */
export function encodeAdvert(
  a: OutgoingAdvert,
  src: string,
  dst: string,
  mode: ChecksumMode = "rfc5798",
): Uint8Array {
  const alen = a.family === 4 ? 4 : 16;
  const msg = new Uint8Array(advertLength(a.version, a.family, a.addresses.length));
  msg[0] = (a.version << 4) | TYPE_ADVERTISEMENT;
  msg[1] = a.vrid;
  msg[2] = a.priority;
  msg[3] = a.addresses.length;
  if (a.version === 3) {
    msg[4] = (a.intervalCs >> 8) & 0x0f;
    msg[5] = a.intervalCs & 0xff;
  } else {
    msg[4] = 0; // auth type: none (RFC 3768 section 5.3.6; authentication was removed)
    msg[5] = Math.max(1, Math.min(255, Math.round(a.intervalCs / 100)));
  }
  a.addresses.forEach((addr, i) => {
    msg.set(parseIP(addr), VRRP_HEADER_LEN + i * alen);
  });
  const sum = internetChecksum(checksumParts(a.version, a.family, mode, src, dst, msg));
  msg[6] = sum >> 8;
  msg[7] = sum & 0xff;
  return msg;
}

export type DecodeError =
  | "short"
  | "version"
  | "type"
  | "length"
  | "bad_checksum"
  | "bad_interval"
  | "v2_auth"
  | "v2_ipv6"
  | "zero_addresses";

export interface DecodedAdvert {
  readonly version: VrrpVersion;
  readonly vrid: number;
  readonly priority: number;
  readonly intervalCs: number;
  readonly addresses: string[];
}

export type DecodeResult =
  | { readonly ok: true; readonly advert: DecodedAdvert }
  | { readonly ok: false; readonly reason: DecodeError };

/** Decode and check a VRRP message (the IP payload). `mode` applies to IPv4 VRRPv3 only. */
export function decodeAdvert(
  msg: Uint8Array,
  family: Family,
  src: string,
  dst: string,
  mode: ChecksumMode = "rfc5798",
): DecodeResult {
  if (msg.length < VRRP_HEADER_LEN) return { ok: false, reason: "short" };
  const version = msg[0]! >> 4;
  const type = msg[0]! & 0x0f;
  if (version !== 2 && version !== 3) return { ok: false, reason: "version" };
  if (type !== TYPE_ADVERTISEMENT) return { ok: false, reason: "type" };
  if (version === 2 && family === 6) return { ok: false, reason: "v2_ipv6" };
  const count = msg[3]!;
  if (count === 0) return { ok: false, reason: "zero_addresses" };
  const need = advertLength(version, family, count);
  // RFC 5798 leaves room for trailing data in v3 only if the IP length says so; we require exact sizes
  // except that v2 senders may omit the (unused) authentication data.
  if (msg.length < need - (version === 2 ? V2_AUTH_DATA_LEN : 0)) return { ok: false, reason: "short" };
  if (msg.length > need) return { ok: false, reason: "length" };
  if (internetChecksum(checksumParts(version, family, mode, src, dst, msg)) !== 0) {
    return { ok: false, reason: "bad_checksum" };
  }
  let intervalCs: number;
  if (version === 3) {
    intervalCs = ((msg[4]! & 0x0f) << 8) | msg[5]!;
  } else {
    if (msg[4] !== 0) return { ok: false, reason: "v2_auth" };
    intervalCs = msg[5]! * 100;
  }
  if (intervalCs === 0) return { ok: false, reason: "bad_interval" };
  const alen = family === 4 ? 4 : 16;
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(formatIP(msg, family, VRRP_HEADER_LEN + i * alen));
  return { ok: true, advert: { version, vrid: msg[1]!, priority: msg[2]!, intervalCs, addresses } };
}

export type Ipv4HeaderError = "short" | "ip_header" | "not_vrrp";

export interface Ipv4Datagram {
  readonly src: string;
  readonly dst: string;
  readonly ttl: number;
  readonly payload: Uint8Array;
}

/** Split an IPv4 datagram as a raw socket returns it (header included). */
export function parseIpv4Datagram(
  pkt: Uint8Array,
): { ok: true; dgram: Ipv4Datagram } | { ok: false; reason: Ipv4HeaderError } {
  if (pkt.length < 20) return { ok: false, reason: "short" };
  if (pkt[0]! >> 4 !== 4) return { ok: false, reason: "ip_header" };
  const ihl = (pkt[0]! & 0x0f) * 4;
  const total = (pkt[2]! << 8) | pkt[3]!;
  if (ihl < 20 || ihl > pkt.length || total < ihl || total > pkt.length)
    return { ok: false, reason: "ip_header" };
  if (pkt[9] !== VRRP_PROTOCOL) return { ok: false, reason: "not_vrrp" };
  return {
    ok: true,
    dgram: {
      src: formatIP(pkt, 4, 12),
      dst: formatIP(pkt, 4, 16),
      ttl: pkt[8]!,
      payload: pkt.subarray(ihl, total),
    },
  };
}

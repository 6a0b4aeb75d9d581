// Receive validation: raw bytes from a socket -> a typed Advert for one instance, or a typed drop reason.
// RFC 5798 section 7.1 checks in order; every drop is counted by reason and nothing here can throw.
import { canonicalIP, type Family } from "./addr.ts";
import { type DecodeError, decodeAdvert, type Ipv4HeaderError, parseIpv4Datagram } from "./codec.ts";
import type { Advert, ChecksumMode, VrrpInstanceSpec, VrrpVersion } from "./types.ts";

export type DropReason =
  | DecodeError
  | Ipv4HeaderError
  | "ttl"
  | "unknown_vrid"
  | "version_mismatch"
  | "address_count"
  | "address_mismatch"
  | "unknown_peer"
  | "internal";

export const DROP_REASONS: readonly DropReason[] = [
  "short",
  "ip_header",
  "not_vrrp",
  "version",
  "type",
  "length",
  "bad_checksum",
  "bad_interval",
  "v2_auth",
  "v2_ipv6",
  "zero_addresses",
  "ttl",
  "unknown_vrid",
  "version_mismatch",
  "address_count",
  "address_mismatch",
  "unknown_peer",
  "internal",
];

export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounters;
}

interface Expect {
  readonly instance: string;
  readonly version: VrrpVersion;
  readonly checksum: ChecksumMode;
  readonly addresses: ReadonlySet<string>;
  readonly count: number;
  /** null = multicast: any source on the link. */
  readonly peers: ReadonlySet<string> | null;
}

/** What one interface expects to hear, per address family and VRID. */
export class ReceiveTable {
  private readonly byKey = new Map<string, Expect>();

  constructor(specs: readonly VrrpInstanceSpec[]) {
    for (const s of specs) {
      const addresses = new Set(s.virtualAddresses.map((c) => canonicalIP(c.split("/")[0]!)));
      this.byKey.set(`${s.family}/${s.interface}/${s.vrid}`, {
        instance: s.name,
        version: s.version,
        checksum: s.checksum,
        addresses,
        count: addresses.size,
        peers: s.unicastPeers.length ? new Set(s.unicastPeers.map(canonicalIP)) : null,
      });
    }
  }

  lookup(family: Family, ifname: string, vrid: number): Expect | undefined {
    return this.byKey.get(`${family}/${ifname}/${vrid}`);
  }
}

export type ReceiveResult =
  | { readonly ok: true; readonly instance: string; readonly advert: Advert }
  | { readonly ok: false; readonly reason: DropReason };

/** An IPv4 datagram as a raw IPPROTO_VRRP socket returns it (IP header included). */
export function receiveIpv4(pkt: Uint8Array, ifname: string, table: ReceiveTable): ReceiveResult {
  const ip = parseIpv4Datagram(pkt);
  if (!ip.ok) return ip;
  return receivePayload(4, ifname, ip.dgram.src, ip.dgram.dst, ip.dgram.ttl, ip.dgram.payload, table);
}

/** The VRRP message plus what the IP layer told us (IPv6: from recvmsg ancillary data). */
export function receivePayload(
  family: Family,
  ifname: string,
  src: string,
  dst: string,
  hopLimit: number,
  msg: Uint8Array,
  table: ReceiveTable,
): ReceiveResult {
  try {
    // RFC 5798 7.1: the TTL/hop limit must be 255, so the packet came from the link itself.
    if (hopLimit !== 255) return { ok: false, reason: "ttl" };
    if (msg.length < 8) return { ok: false, reason: "short" };
    const expect = table.lookup(family, ifname, msg[1]!);
    if (!expect) {
      // Still tell malformed from merely foreign: a well-formed advert for another VRID is "unknown_vrid".
      const shape = decodeAdvert(msg, family, src, dst, "rfc5798");
      if (!shape.ok && shape.reason !== "bad_checksum") return shape;
      return { ok: false, reason: "unknown_vrid" };
    }
    const decoded = decodeAdvert(msg, family, src, dst, expect.checksum);
    if (!decoded.ok) return decoded;
    const a = decoded.advert;
    if (a.version !== expect.version) return { ok: false, reason: "version_mismatch" };
    if (expect.peers && !expect.peers.has(src)) return { ok: false, reason: "unknown_peer" };
    // The address lists must agree (keepalived drops a mismatch too): a mismatch is a misconfiguration.
    if (a.addresses.length !== expect.count) return { ok: false, reason: "address_count" };
    for (const addr of a.addresses)
      if (!expect.addresses.has(addr)) return { ok: false, reason: "address_mismatch" };
    return {
      ok: true,
      instance: expect.instance,
      advert: {
        version: a.version,
        family,
        vrid: a.vrid,
        priority: a.priority,
        intervalCs: a.intervalCs,
        addresses: a.addresses,
        source: src,
      },
    };
  } catch {
    return { ok: false, reason: "internal" };
  }
}

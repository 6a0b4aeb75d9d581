// Frames that move the neighbours' caches to the new master: gratuitous ARP (RFC 5227 style request,
// sender = target = VIP) for IPv4 and unsolicited neighbour advertisements (RFC 4861 7.2.6) for IPv6.
// Pure byte builders; the adapter sends them through an AF_PACKET socket.
import { internetChecksum } from "./codec.ts";

export class MacError extends Error {
  override readonly name = "MacError";
}

export function parseMac(text: string): Uint8Array {
  const parts = text.trim().split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new MacError(`not a MAC address: ${text}`);
  }
  return new Uint8Array(parts.map((p) => Number.parseInt(p, 16)));
}

export function gratuitousArp(mac: Uint8Array, ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(42);
  const v = new DataView(f.buffer);
  f.fill(0xff, 0, 6); // broadcast
  f.set(mac, 6);
  v.setUint16(12, 0x0806);
  v.setUint16(14, 1); // hardware: Ethernet
  v.setUint16(16, 0x0800); // protocol: IPv4
  f[18] = 6;
  f[19] = 4;
  v.setUint16(20, 1); // request: updates every cache that has an entry, as keepalived sends it
  f.set(mac, 22);
  f.set(ip, 28);
  f.set(ip, 38); // target hardware address stays zero
  return f;
}

/** Unsolicited NA to all-nodes: Override set, Solicited clear, with the target link-layer option. */
export function unsolicitedNa(
  mac: Uint8Array,
  source: Uint8Array,
  target: Uint8Array,
  router = false,
): Uint8Array {
  const icmpLen = 24 + 8;
  const f = new Uint8Array(14 + 40 + icmpLen);
  const v = new DataView(f.buffer);
  f.set([0x33, 0x33, 0, 0, 0, 1], 0);
  f.set(mac, 6);
  v.setUint16(12, 0x86dd);
  const ip = 14;
  v.setUint32(ip, 0x60000000);
  v.setUint16(ip + 4, icmpLen);
  f[ip + 6] = 58; // ICMPv6
  f[ip + 7] = 255; // hop limit, required by RFC 4861
  f.set(source, ip + 8);
  const allNodes = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  f.set(allNodes, ip + 24);
  const icmp = ip + 40;
  f[icmp] = 136; // neighbour advertisement
  f[icmp + 4] = (router ? 0x80 : 0) | 0x20; // R, S=0, O=1
  f.set(target, icmp + 8);
  f[icmp + 24] = 2; // option: target link-layer address
  f[icmp + 25] = 1; // length in 8-byte units
  f.set(mac, icmp + 26);
  const pseudo = new Uint8Array(40);
  pseudo.set(source, 0);
  pseudo.set(allNodes, 16);
  new DataView(pseudo.buffer).setUint32(32, icmpLen);
  pseudo[39] = 58;
  const sum = internetChecksum([pseudo, f.subarray(icmp)]);
  v.setUint16(icmp + 2, sum);
  return f;
}

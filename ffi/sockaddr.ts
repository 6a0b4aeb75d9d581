// sockaddr codecs (pure TypeScript): the byte layouts that bind/sendto/recvfrom take and return.
// Addresses are raw bytes (4 or 16); see src/netlink/ipaddr.ts for text forms.
import { AF } from "./constants.ts";

export class SockaddrError extends Error {
  override readonly name = "SockaddrError";
}

export type Sockaddr =
  | { readonly family: "inet"; readonly address: Uint8Array; readonly port: number }
  | {
      readonly family: "inet6";
      readonly address: Uint8Array;
      readonly port: number;
      readonly flowInfo: number;
      readonly scopeId: number;
    }
  | { readonly family: "netlink"; readonly portId: number; readonly groups: number }
  | {
      readonly family: "packet";
      readonly protocol: number;
      readonly ifindex: number;
      readonly hatype: number;
      readonly pkttype: number;
      readonly address: Uint8Array;
    }
  | { readonly family: "other"; readonly familyNumber: number; readonly raw: Uint8Array };

function u16(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new SockaddrError(`${what} out of range: ${n}`);
  return n;
}
function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new SockaddrError(`${what} out of range: ${n}`);
  return n;
}

/** struct sockaddr_in (16 bytes). */
export function sockaddrIn(address: Uint8Array, port = 0): Uint8Array {
  if (address.byteLength !== 4)
    throw new SockaddrError(`IPv4 address needs 4 bytes, got ${address.byteLength}`);
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF.INET, true);
  v.setUint16(2, u16(port, "port"), false);
  out.set(address, 4);
  return out;
}

/** struct sockaddr_in6 (28 bytes). */
export function sockaddrIn6(address: Uint8Array, port = 0, scopeId = 0, flowInfo = 0): Uint8Array {
  if (address.byteLength !== 16) {
    throw new SockaddrError(`IPv6 address needs 16 bytes, got ${address.byteLength}`);
  }
  const out = new Uint8Array(28);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF.INET6, true);
  v.setUint16(2, u16(port, "port"), false);
  v.setUint32(4, u32(flowInfo, "flowinfo"), false);
  out.set(address, 8);
  v.setUint32(24, u32(scopeId, "scope id"), true);
  return out;
}

/** struct sockaddr_nl (12 bytes); portId 0 = the kernel. */
export function sockaddrNl(portId = 0, groups = 0): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF.NETLINK, true);
  v.setUint32(4, u32(portId, "port id"), true);
  v.setUint32(8, u32(groups, "groups"), true);
  return out;
}

/** struct sockaddr_ll (20 bytes); protocol is an ETH_P_* value in host order. */
export function sockaddrLl(opts: {
  readonly protocol: number;
  readonly ifindex: number;
  readonly address?: Uint8Array;
  readonly hatype?: number;
  readonly pkttype?: number;
}): Uint8Array {
  const addr = opts.address ?? new Uint8Array(0);
  if (addr.byteLength > 8) throw new SockaddrError(`link-layer address too long: ${addr.byteLength}`);
  const out = new Uint8Array(20);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF.PACKET, true);
  v.setUint16(2, u16(opts.protocol, "protocol"), false);
  v.setInt32(4, opts.ifindex, true);
  v.setUint16(8, u16(opts.hatype ?? 0, "hatype"), true);
  v.setUint8(10, opts.pkttype ?? 0);
  v.setUint8(11, addr.byteLength);
  out.set(addr, 12);
  return out;
}

/** Decodes a sockaddr returned by recvfrom/recvmsg/getsockname; throws SockaddrError when too short. */
export function decodeSockaddr(bytes: Uint8Array): Sockaddr {
  if (bytes.byteLength < 2) throw new SockaddrError(`sockaddr too short: ${bytes.byteLength} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = v.getUint16(0, true);
  const need = (n: number) => {
    if (bytes.byteLength < n) throw new SockaddrError(`sockaddr family ${family} needs ${n} bytes`);
  };
  switch (family) {
    case AF.INET:
      need(8);
      return { family: "inet", port: v.getUint16(2, false), address: bytes.slice(4, 8) };
    case AF.INET6:
      need(28);
      return {
        family: "inet6",
        port: v.getUint16(2, false),
        flowInfo: v.getUint32(4, false),
        address: bytes.slice(8, 24),
        scopeId: v.getUint32(24, true),
      };
    case AF.NETLINK:
      need(12);
      return { family: "netlink", portId: v.getUint32(4, true), groups: v.getUint32(8, true) };
    case AF.PACKET: {
      need(12);
      const halen = Math.min(v.getUint8(11), 8, Math.max(0, bytes.byteLength - 12));
      return {
        family: "packet",
        protocol: v.getUint16(2, false),
        ifindex: v.getInt32(4, true),
        hatype: v.getUint16(8, true),
        pkttype: v.getUint8(10),
        address: bytes.slice(12, 12 + halen),
      };
    }
    default:
      return { family: "other", familyNumber: family, raw: bytes.slice() };
  }
}

// Raw sockets for VRRP (IP protocol 112 over IPv4 and IPv6) and AF_PACKET for gratuitous ARP and
// unsolicited neighbour advertisements. Built on ffi/libc.ts; callers see fds, bytes and strings only.
// Every socket is bound to one interface, close-on-exec and nonblocking: the VRRP Worker waits in poll().
import { encodeControlMessages, parseControlMessages } from "./cmsg.ts";
import { AF, ETH_P, IP_OPT, IPPROTO, IPV6_OPT, SO, SOCK, SOL } from "./constants.ts";
import { Errno } from "./errno.ts";
import { close, ifNameToIndex, recvmsg, sendmsg, sendto, setsockopt, socket } from "./libc.ts";
import { decodeSockaddr, sockaddrIn, sockaddrIn6, sockaddrLl } from "./sockaddr.ts";
import { SysError } from "./sys-error.ts";

const VRRP_GROUP_V4 = new Uint8Array([224, 0, 0, 18]);
const VRRP_GROUP_V6 = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
/** Generous for adverts (at most 8 + 255 x 16 + IP header bytes); larger datagrams are truncated and dropped. */
const RECV_BUFFER_BYTES = 4608;
const RCVBUF_BYTES = 1 << 20;

export interface VrrpSocket {
  readonly fd: number;
  readonly family: 4 | 6;
  readonly ifindex: number;
  readonly ifname: string;
}

function ifname16(name: string): Uint8Array {
  const b = new Uint8Array(16);
  const enc = new TextEncoder().encode(name);
  if (enc.length >= 16)
    throw new SysError("SO_BINDTODEVICE", Errno.EINVAL, `interface name too long: ${name}`);
  b.set(enc);
  return b;
}

/** struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex; } */
function ipMreqn(group: Uint8Array, ifindex: number): Uint8Array {
  const b = new Uint8Array(12);
  b.set(group, 0);
  new DataView(b.buffer).setInt32(8, ifindex, true);
  return b;
}

/** struct ipv6_mreq { in6_addr multiaddr; int ifindex; } */
function ipv6Mreq(group: Uint8Array, ifindex: number): Uint8Array {
  const b = new Uint8Array(20);
  b.set(group, 0);
  new DataView(b.buffer).setInt32(16, ifindex, true);
  return b;
}

/**
 * One socket per (interface, family) that both receives (multicast group joined, TTL/hop limit visible)
 * and sends with TTL/hop limit 255. The source address is chosen per packet (IP_PKTINFO / IPV6_PKTINFO).
 */
export function openVrrpSocket(ifname: string, family: 4 | 6, joinGroup: boolean): VrrpSocket {
  const ifindex = ifNameToIndex(ifname);
  const domain = family === 4 ? AF.INET : AF.INET6;
  const fd = socket(domain, SOCK.RAW | SOCK.CLOEXEC | SOCK.NONBLOCK, IPPROTO.VRRP);
  try {
    setsockopt(fd, SOL.SOCKET, SO.BINDTODEVICE, ifname16(ifname));
    setsockopt(fd, SOL.SOCKET, SO.RCVBUF, RCVBUF_BYTES);
    if (family === 4) {
      setsockopt(fd, SOL.IP, IP_OPT.TTL, 255);
      setsockopt(fd, SOL.IP, IP_OPT.MULTICAST_TTL, 255);
      setsockopt(fd, SOL.IP, IP_OPT.MULTICAST_LOOP, 0);
      setsockopt(fd, SOL.IP, IP_OPT.MULTICAST_IF, ipMreqn(new Uint8Array(4), ifindex));
      if (joinGroup) setsockopt(fd, SOL.IP, IP_OPT.ADD_MEMBERSHIP, ipMreqn(VRRP_GROUP_V4, ifindex));
    } else {
      setsockopt(fd, SOL.IPV6, IPV6_OPT.UNICAST_HOPS, 255);
      setsockopt(fd, SOL.IPV6, IPV6_OPT.MULTICAST_HOPS, 255);
      setsockopt(fd, SOL.IPV6, IPV6_OPT.MULTICAST_LOOP, 0);
      setsockopt(fd, SOL.IPV6, IPV6_OPT.MULTICAST_IF, ifindex);
      setsockopt(fd, SOL.IPV6, IPV6_OPT.RECVHOPLIMIT, 1);
      setsockopt(fd, SOL.IPV6, IPV6_OPT.RECVPKTINFO, 1);
      if (joinGroup) setsockopt(fd, SOL.IPV6, IPV6_OPT.ADD_MEMBERSHIP, ipv6Mreq(VRRP_GROUP_V6, ifindex));
    }
  } catch (e) {
    close(fd);
    throw e;
  }
  return { fd, family, ifindex, ifname };
}

/** Sends one VRRP message from `source` (a local address) to `dest` (group or unicast peer). */
export function sendVrrp(sock: VrrpSocket, msg: Uint8Array, source: Uint8Array, dest: Uint8Array): boolean {
  if (sock.family === 4) {
    // struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
    const info = new Uint8Array(12);
    new DataView(info.buffer).setInt32(0, sock.ifindex, true);
    info.set(source, 4);
    const control = encodeControlMessages([{ level: SOL.IP, type: IP_OPT.PKTINFO, data: info }]);
    return sendmsg(sock.fd, msg, { to: sockaddrIn(dest), control }) !== null;
  }
  // struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
  const info = new Uint8Array(20);
  info.set(source, 0);
  new DataView(info.buffer).setInt32(16, sock.ifindex, true);
  const control = encodeControlMessages([{ level: SOL.IPV6, type: IPV6_OPT.PKTINFO, data: info }]);
  return sendmsg(sock.fd, msg, { to: sockaddrIn6(dest, 0, sock.ifindex), control }) !== null;
}

export interface VrrpDatagram {
  /** IPv4: the whole datagram, header included. IPv6: the VRRP message. */
  readonly bytes: Uint8Array;
  /** IPv6 only (IPv4 carries these in the header). */
  readonly source?: Uint8Array;
  readonly destination?: Uint8Array;
  readonly hopLimit?: number;
  readonly truncated: boolean;
}

/** Reads one datagram; null when the socket is empty. */
export function recvVrrp(sock: VrrpSocket, buf = new Uint8Array(RECV_BUFFER_BYTES)): VrrpDatagram | null {
  const control = sock.family === 6 ? new Uint8Array(128) : null;
  const m = recvmsg(sock.fd, buf, control);
  if (m === null) return null;
  const bytes = buf.slice(0, m.length);
  const truncated = (m.flags & 0x20) !== 0;
  if (sock.family === 4) return { bytes, truncated };
  let hopLimit = -1;
  let destination: Uint8Array | undefined;
  for (const c of parseControlMessages(m.control)) {
    if (c.level !== SOL.IPV6) continue;
    if (c.type === IPV6_OPT.HOPLIMIT && c.data.length >= 4) {
      hopLimit = new DataView(c.data.buffer, c.data.byteOffset).getInt32(0, true);
    } else if (c.type === IPV6_OPT.PKTINFO && c.data.length >= 16) destination = c.data.slice(0, 16);
  }
  const from = decodeSockaddr(m.from);
  const source = from.family === "inet6" ? from.address : undefined;
  return {
    bytes,
    truncated,
    hopLimit,
    ...(source ? { source } : {}),
    ...(destination ? { destination } : {}),
  };
}

export interface PacketSocket {
  readonly fd: number;
  readonly ifindex: number;
}

/** AF_PACKET socket for sending whole Ethernet frames on one interface (nothing is received). */
export function openPacketSocket(ifname: string): PacketSocket {
  const ifindex = ifNameToIndex(ifname);
  // Protocol 0: the socket receives nothing, it only transmits.
  const fd = socket(AF.PACKET, SOCK.RAW | SOCK.CLOEXEC | SOCK.NONBLOCK, 0);
  return { fd, ifindex };
}

/** Sends a complete Ethernet frame (header included). */
export function sendFrame(sock: PacketSocket, frame: Uint8Array): boolean {
  const ethertype = (frame[12]! << 8) | frame[13]!;
  const to = sockaddrLl({ protocol: ethertype, ifindex: sock.ifindex, address: frame.slice(0, 6) });
  return sendto(sock.fd, frame, 0, to) !== null;
}

export function closeSocket(fd: number): void {
  close(fd);
}

export { ETH_P };

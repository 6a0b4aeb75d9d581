// Linux socket-layer constants (x86-64 values) used by the libc bindings and their callers.

export const AF = { UNSPEC: 0, INET: 2, NETLINK: 16, PACKET: 17, INET6: 10 } as const;

export const SOCK = {
  STREAM: 1,
  DGRAM: 2,
  RAW: 3,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
} as const;

export const SOL = {
  SOCKET: 1,
  IP: 0,
  IPV6: 41,
  PACKET: 263,
  NETLINK: 270,
} as const;

export const SO = {
  REUSEADDR: 2,
  PRIORITY: 12,
  SNDBUF: 7,
  RCVBUF: 8,
  BINDTODEVICE: 25,
  SNDBUFFORCE: 32,
  RCVBUFFORCE: 33,
} as const;

export const IPPROTO = {
  IP: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ICMPV6: 58,
  VRRP: 112,
} as const;

export const IP_OPT = {
  TTL: 2,
  HDRINCL: 3,
  PKTINFO: 8,
  MULTICAST_IF: 32,
  MULTICAST_TTL: 33,
  MULTICAST_LOOP: 34,
  ADD_MEMBERSHIP: 35,
  DROP_MEMBERSHIP: 36,
} as const;

export const IPV6_OPT = {
  CHECKSUM: 7,
  UNICAST_HOPS: 16,
  MULTICAST_IF: 17,
  MULTICAST_HOPS: 18,
  MULTICAST_LOOP: 19,
  ADD_MEMBERSHIP: 20,
  DROP_MEMBERSHIP: 21,
  V6ONLY: 26,
  RECVPKTINFO: 49,
  PKTINFO: 50,
  RECVHOPLIMIT: 51,
  HOPLIMIT: 52,
} as const;

export const PACKET_OPT = { ADD_MEMBERSHIP: 1, DROP_MEMBERSHIP: 2 } as const;

export const NETLINK_OPT = {
  ADD_MEMBERSHIP: 1,
  DROP_MEMBERSHIP: 2,
  NO_ENOBUFS: 5,
  CAP_ACK: 10,
  EXT_ACK: 11,
  GET_STRICT_CHK: 12,
} as const;

export const NETLINK_PROTO = { ROUTE: 0, GENERIC: 16 } as const;

export const MSG = { PEEK: 0x2, CTRUNC: 0x8, TRUNC: 0x20, DONTWAIT: 0x40 } as const;

export const POLL = { IN: 0x1, PRI: 0x2, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20 } as const;

export const ETH_P = { ALL: 0x0003, IP: 0x0800, ARP: 0x0806, IPV6: 0x86dd } as const;

export const CLONE_NEWNET = 0x40000000;

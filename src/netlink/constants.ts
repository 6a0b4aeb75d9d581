// Netlink protocol constants (include/uapi/linux/netlink.h and rtnetlink.h).

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4, MIN_TYPE: 0x10 } as const;

export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // GET requests
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  // NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // DELETE requests
  NONREC: 0x100,
  BULK: 0x200,
  // ack flags
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2, COOKIE: 3, POLICY: 4, MISS_TYPE: 5, MISS_NEST: 6 } as const;

/** Bounds on what the decoder accepts. */
export const LIMITS = {
  /** Largest buffer (one or more messages) the decoder will look at. */
  maxBufferBytes: 4 * 1024 * 1024,
  /** Largest single message the encoder builds. */
  maxMessageBytes: 1024 * 1024,
  maxMessagesPerBuffer: 65536,
  maxAttrsPerLevel: 4096,
  maxNestingDepth: 8,
} as const;

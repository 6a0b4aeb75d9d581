// Owning wrapper over libnl-3's struct nl_sock. libnl does the socket bookkeeping (allocation, bind to a
// unique local port, sequence numbers, generic-netlink family and group resolution); message contents
// are encoded and decoded in TypeScript (src/netlink). No pointer leaves this file.
import { dlopen, type Pointer, ptr, FFIType as T, toArrayBuffer } from "bun:ffi";
import { NETLINK_OPT, NETLINK_PROTO, SO, SOL } from "./constants.ts";
import { errnoName } from "./errno.ts";
import * as libc from "./libc.ts";
import { SysError } from "./sys-error.ts";

const nl = dlopen("libnl-3.so.200", {
  nl_socket_alloc: { args: [], returns: T.ptr },
  nl_socket_free: { args: [T.ptr], returns: T.void },
  nl_connect: { args: [T.ptr, T.i32], returns: T.i32 },
  nl_close: { args: [T.ptr], returns: T.void },
  nl_socket_get_fd: { args: [T.ptr], returns: T.i32 },
  nl_socket_get_local_port: { args: [T.ptr], returns: T.u32 },
  nl_socket_use_seq: { args: [T.ptr], returns: T.u32 },
  nl_socket_set_nonblocking: { args: [T.ptr], returns: T.i32 },
  nl_socket_set_buffer_size: { args: [T.ptr, T.i32, T.i32], returns: T.i32 },
  nl_socket_add_membership: { args: [T.ptr, T.i32], returns: T.i32 },
  nl_socket_drop_membership: { args: [T.ptr, T.i32], returns: T.i32 },
  nl_socket_disable_seq_check: { args: [T.ptr], returns: T.void },
  nl_sendto: { args: [T.ptr, T.ptr, T.u64], returns: T.i32 },
  nl_recv: { args: [T.ptr, T.ptr, T.ptr, T.ptr], returns: T.i32 },
  nl_geterror: { args: [T.i32], returns: T.cstring },
});
const genl = dlopen("libnl-genl-3.so.200", {
  genl_connect: { args: [T.ptr], returns: T.i32 },
  genl_ctrl_resolve: { args: [T.ptr, T.ptr], returns: T.i32 },
  genl_ctrl_resolve_grp: { args: [T.ptr, T.ptr, T.ptr], returns: T.i32 },
});

/** libnl's own error codes (include/netlink/errno.h), indexed by value. */
const NLE_NAMES = [
  "NLE_SUCCESS",
  "NLE_FAILURE",
  "NLE_INTR",
  "NLE_BAD_SOCK",
  "NLE_AGAIN",
  "NLE_NOMEM",
  "NLE_EXIST",
  "NLE_INVAL",
  "NLE_RANGE",
  "NLE_MSGSIZE",
  "NLE_OPNOTSUPP",
  "NLE_AF_NOSUPPORT",
  "NLE_OBJ_NOTFOUND",
  "NLE_NOATTR",
  "NLE_MISSING_ATTR",
  "NLE_AF_MISMATCH",
  "NLE_SEQ_MISMATCH",
  "NLE_MSG_OVERFLOW",
  "NLE_MSG_TRUNC",
  "NLE_NOADDR",
  "NLE_SRCRT_NOSUPPORT",
  "NLE_MSG_TOOSHORT",
  "NLE_MSGTYPE_NOSUPPORT",
  "NLE_OBJ_MISMATCH",
  "NLE_NOCACHE",
  "NLE_BUSY",
  "NLE_PROTO_MISMATCH",
  "NLE_NOACCESS",
  "NLE_PERM",
  "NLE_PKTLOC_FILE",
  "NLE_PARSE_ERR",
  "NLE_NODEV",
  "NLE_IMMUTABLE",
  "NLE_DUMP_INTR",
  "NLE_ATTRSIZE",
] as const;
const NLE_AGAIN = 4;

export function nleName(code: number): string {
  return NLE_NAMES[Math.abs(code)] ?? `NLE_${Math.abs(code)}`;
}

/** A libnl call failed. code is libnl's name ("NLE_OBJ_NOTFOUND"); errnoCode the errno seen, if any. */
export class NlError extends Error {
  override readonly name = "NlError";
  readonly code: string;
  readonly nlCode: number;

  constructor(
    readonly op: string,
    rc: number,
    readonly errnoCode?: string,
  ) {
    const nlCode = Math.abs(rc);
    const text = nl.symbols.nl_geterror(-nlCode)?.toString() ?? "unknown";
    super(`${op}: ${nleName(nlCode)} (${text})${errnoCode ? ` [${errnoCode}]` : ""}`);
    this.code = nleName(nlCode);
    this.nlCode = nlCode;
  }
}

export interface NlDatagram {
  /** One datagram as the kernel sent it (may hold several netlink messages). */
  readonly data: Uint8Array;
  /** Sender's port id: 0 for the kernel; anything else is another process. */
  readonly senderPort: number;
  /** Multicast group bitmask the datagram was addressed to (0 for unicast replies). */
  readonly groups: number;
}

export interface NlSocketOptions {
  /** Request extended acks (error strings) and capped acks (no request echo). Default true. */
  readonly extendedAck?: boolean;
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
}

const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
const textEncoder = new TextEncoder();
function cString(s: string): Uint8Array {
  const b = textEncoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

const leaked = new FinalizationRegistry<Pointer>((p) => nl.symbols.nl_socket_free(p));

/** One connected, nonblocking netlink socket. close() is idempotent; every other call after it throws. */
export class NlSocket {
  private handle: Pointer | null;
  readonly protocol: number;
  readonly fd: number;
  readonly localPort: number;
  private readonly out = new BigUint64Array(1);
  private readonly from = new Uint8Array(12);

  private constructor(handle: Pointer, protocol: number) {
    this.handle = handle;
    this.protocol = protocol;
    this.fd = nl.symbols.nl_socket_get_fd(handle);
    this.localPort = nl.symbols.nl_socket_get_local_port(handle);
    leaked.register(this, handle, this);
  }

  /** Allocates and connects a socket for protocol (NETLINK_PROTO.ROUTE, .GENERIC, ...). */
  static open(protocol: number, options: NlSocketOptions = {}): NlSocket {
    const handle = nl.symbols.nl_socket_alloc();
    if (handle === null) throw new NlError("nl_socket_alloc", 5);
    try {
      // Acks and sequence checks are done by our client in TypeScript.
      nl.symbols.nl_socket_disable_seq_check(handle);
      const rc =
        protocol === NETLINK_PROTO.GENERIC
          ? genl.symbols.genl_connect(handle)
          : nl.symbols.nl_connect(handle, protocol);
      if (rc < 0) throw new NlError(`nl_connect(${protocol})`, rc, errnoName(libc.errno()));
      const rcNb = nl.symbols.nl_socket_set_nonblocking(handle);
      if (rcNb < 0) throw new NlError("nl_socket_set_nonblocking", rcNb);
    } catch (err) {
      nl.symbols.nl_socket_free(handle);
      throw err;
    }
    const sock = new NlSocket(handle as Pointer, protocol);
    try {
      if (options.extendedAck ?? true) {
        libc.setsockopt(sock.fd, SOL.NETLINK, NETLINK_OPT.EXT_ACK, 1);
        libc.setsockopt(sock.fd, SOL.NETLINK, NETLINK_OPT.CAP_ACK, 1);
      }
      if (options.receiveBufferBytes !== undefined || options.sendBufferBytes !== undefined) {
        sock.setBufferSizes(options.receiveBufferBytes ?? 0, options.sendBufferBytes ?? 0);
      }
    } catch (err) {
      sock.close();
      throw err;
    }
    return sock;
  }

  get closed(): boolean {
    return this.handle === null;
  }

  private live(op: string): Pointer {
    if (this.handle === null) throw new NlError(`${op} on a closed socket`, 3);
    return this.handle;
  }

  /** The next sequence number from libnl's counter for this socket. */
  nextSeq(): number {
    return nl.symbols.nl_socket_use_seq(this.live("nextSeq"));
  }

  /** Sends bytes that already hold one or more complete netlink messages, to the kernel. */
  sendRaw(bytes: Uint8Array): void {
    const h = this.live("sendRaw");
    if (bytes.byteLength === 0 || bytes.byteLength > libc.MAX_IO_BYTES) {
      throw new NlError(`sendRaw of ${bytes.byteLength} bytes`, 9);
    }
    const rc = nl.symbols.nl_sendto(h, ptr(bytes), bytes.byteLength);
    if (rc < 0) throw new NlError("nl_sendto", rc, errnoName(libc.errno()));
  }

  /** One datagram, copied out of libnl's buffer; null when nothing is queued (never blocks). */
  recvRaw(): NlDatagram | null {
    const h = this.live("recvRaw");
    this.out[0] = 0n;
    this.from.fill(0);
    const n = nl.symbols.nl_recv(h, ptr(this.from), ptr(this.out), null);
    const buf = Number(this.out[0]) as Pointer;
    if (n <= 0) {
      const errnoCode = n < 0 ? errnoName(libc.errno()) : undefined;
      if (buf) libc.freeCMemory(buf);
      if (n === 0 || -n === NLE_AGAIN) return null;
      throw new NlError("nl_recv", n, errnoCode);
    }
    try {
      const data = new Uint8Array(toArrayBuffer(buf, 0, n)).slice();
      const from = new DataView(this.from.buffer);
      return { data, senderPort: from.getUint32(4, true), groups: from.getUint32(8, true) };
    } finally {
      libc.freeCMemory(buf);
    }
  }

  /** Sets kernel buffer sizes; as root, also lifts them past rmem_max/wmem_max. 0 leaves one alone. */
  setBufferSizes(receiveBytes: number, sendBytes: number): void {
    const h = this.live("setBufferSizes");
    for (const n of [receiveBytes, sendBytes]) {
      if (!Number.isInteger(n) || n < 0 || n > MAX_BUFFER_BYTES) throw new NlError(`buffer size ${n}`, 8);
    }
    const rc = nl.symbols.nl_socket_set_buffer_size(h, receiveBytes, sendBytes);
    if (rc < 0) throw new NlError("nl_socket_set_buffer_size", rc);
    const force = (opt: number, n: number) => {
      if (n === 0) return;
      try {
        libc.setsockopt(this.fd, SOL.SOCKET, opt, n);
      } catch (err) {
        if (!(err instanceof SysError && err.code === "EPERM")) throw err;
      }
    };
    force(SO.RCVBUFFORCE, receiveBytes);
    force(SO.SNDBUFFORCE, sendBytes);
  }

  /** Joins a multicast group (an RTNLGRP_* number or a resolved generic-netlink group id). */
  addMembership(group: number): void {
    const rc = nl.symbols.nl_socket_add_membership(this.live("addMembership"), group);
    if (rc < 0) throw new NlError(`nl_socket_add_membership(${group})`, rc, errnoName(libc.errno()));
  }

  dropMembership(group: number): void {
    const rc = nl.symbols.nl_socket_drop_membership(this.live("dropMembership"), group);
    if (rc < 0) throw new NlError(`nl_socket_drop_membership(${group})`, rc, errnoName(libc.errno()));
  }

  /** Sets an int SOL_NETLINK option (e.g. NETLINK_OPT.NO_ENOBUFS, GET_STRICT_CHK). */
  setNetlinkOption(option: number, value: number): void {
    this.live("setNetlinkOption");
    libc.setsockopt(this.fd, SOL.NETLINK, option, value);
  }

  close(): void {
    const h = this.handle;
    if (h === null) return;
    this.handle = null;
    leaked.unregister(this);
    nl.symbols.nl_socket_free(h); // closes the fd too
  }
}

export interface GenlFamily {
  readonly name: string;
  readonly id: number;
  /** Multicast group ids by name, for the groups that were asked for and exist. */
  readonly groups: ReadonlyMap<string, number>;
}

/**
 * Resolves a generic-netlink family id (and optional multicast groups) on a short-lived private socket,
 * so libnl's own receive loop can never consume replies meant for our sockets.
 * Throws NlError with code NLE_OBJ_NOTFOUND when the family (e.g. IPVS without ip_vs loaded) is absent.
 */
export function resolveGenlFamily(name: string, groupNames: readonly string[] = []): GenlFamily {
  if (name.length === 0 || name.length > 15) throw new NlError(`bad family name ${JSON.stringify(name)}`, 7);
  const handle = nl.symbols.nl_socket_alloc();
  if (handle === null) throw new NlError("nl_socket_alloc", 5);
  try {
    const rc = genl.symbols.genl_connect(handle);
    if (rc < 0) throw new NlError("genl_connect", rc, errnoName(libc.errno()));
    const id = genl.symbols.genl_ctrl_resolve(handle, ptr(cString(name)));
    if (id < 0) throw new NlError(`genl_ctrl_resolve(${name})`, id);
    const groups = new Map<string, number>();
    for (const g of groupNames) {
      const gid = genl.symbols.genl_ctrl_resolve_grp(handle, ptr(cString(name)), ptr(cString(g)));
      if (gid >= 0) groups.set(g, gid);
      else if (-gid !== 12) throw new NlError(`genl_ctrl_resolve_grp(${name}, ${g})`, gid);
    }
    return { name, id, groups };
  } finally {
    nl.symbols.nl_socket_free(handle);
  }
}

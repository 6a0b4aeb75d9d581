// Typed libc bindings for sockets, poll and friends. Callers pass and receive bytes, numbers and strings;
// pointers never leave this file. Every failure throws a SysError carrying the errno name, except the
// "would block" cases that are part of a nonblocking protocol, which return null.
import { dlopen, type Pointer, ptr, read, FFIType as T } from "bun:ffi";
import { AF, CLONE_NEWNET, MSG } from "./constants.ts";
import { Errno } from "./errno.ts";
import { SysError } from "./sys-error.ts";

const lib = dlopen("libc.so.6", {
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  connect: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
  getsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.ptr], returns: T.i32 },
  getsockname: { args: [T.i32, T.ptr, T.ptr], returns: T.i32 },
  sendto: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.u32], returns: T.i64_fast },
  recvfrom: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.ptr], returns: T.i64_fast },
  recvmsg: { args: [T.i32, T.ptr, T.i32], returns: T.i64_fast },
  sendmsg: { args: [T.i32, T.ptr, T.i32], returns: T.i64_fast },
  read: { args: [T.i32, T.ptr, T.u64], returns: T.i64_fast },
  write: { args: [T.i32, T.ptr, T.u64], returns: T.i64_fast },
  poll: { args: [T.ptr, T.u64, T.i32], returns: T.i32 },
  fcntl: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  eventfd: { args: [T.u32, T.i32], returns: T.i32 },
  if_nametoindex: { args: [T.ptr], returns: T.u32 },
  if_indextoname: { args: [T.u32, T.ptr], returns: T.ptr },
  setns: { args: [T.i32, T.i32], returns: T.i32 },
  tcgetattr: { args: [T.i32, T.ptr], returns: T.i32 },
  tcsetattr: { args: [T.i32, T.i32, T.ptr], returns: T.i32 },
  cfsetispeed: { args: [T.ptr, T.u32], returns: T.i32 },
  cfsetospeed: { args: [T.ptr, T.u32], returns: T.i32 },
  cfgetospeed: { args: [T.ptr], returns: T.u32 },
  free: { args: [T.ptr], returns: T.void },
  sync_file_range: { args: [T.i32, T.i64, T.i64, T.u32], returns: T.i32 },
  __errno_location: { args: [], returns: T.ptr },
});
const sym = lib.symbols;

/** Largest single datagram or buffer this layer will pass to the kernel (bounds every copy). */
export const MAX_IO_BYTES = 16 * 1024 * 1024;
const SOCKADDR_STORAGE_BYTES = 128;
const IFNAMSIZ = 16;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

export function errno(): number {
  const loc = sym.__errno_location();
  return loc === null ? 0 : read.i32(loc, 0);
}

function fail(syscall: string, detail?: string): never {
  throw new SysError(syscall, errno(), detail);
}

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new SysError("fd", Errno.EINVAL, `bad file descriptor ${fd}`);
}

function checkLength(what: string, n: number): void {
  if (n > MAX_IO_BYTES)
    throw new SysError(what, Errno.EINVAL, `buffer of ${n} bytes exceeds ${MAX_IO_BYTES}`);
}

/** NUL-terminated copy of a string for C. */
function cString(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  if (bytes.includes(0)) throw new SysError("cstring", Errno.EINVAL, "string contains NUL");
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** ptr() that also accepts empty arrays (C gets NULL). */
function ptrOrNull(buf: Uint8Array | null | undefined): Pointer | null {
  return buf && buf.byteLength > 0 ? ptr(buf) : null;
}

export function socket(domain: number, type: number, protocol: number): number {
  const fd = sym.socket(domain, type, protocol);
  if (fd < 0) fail("socket", `domain=${domain} type=${type} protocol=${protocol}`);
  return fd;
}

export function bind(fd: number, sockaddr: Uint8Array): void {
  checkFd(fd);
  if (sym.bind(fd, ptr(sockaddr), sockaddr.byteLength) < 0) fail("bind");
}

export function connect(fd: number, sockaddr: Uint8Array): void {
  checkFd(fd);
  if (sym.connect(fd, ptr(sockaddr), sockaddr.byteLength) < 0) fail("connect");
}

export function close(fd: number): void {
  checkFd(fd);
  if (sym.close(fd) < 0) fail("close");
}

/** setsockopt with either raw option bytes or a C int. */
export function setsockopt(fd: number, level: number, option: number, value: Uint8Array | number): void {
  checkFd(fd);
  let bytes: Uint8Array;
  if (typeof value === "number") {
    bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setInt32(0, value, true);
  } else {
    bytes = value;
  }
  if (sym.setsockopt(fd, level, option, ptrOrNull(bytes), bytes.byteLength) < 0) {
    fail("setsockopt", `level=${level} option=${option}`);
  }
}

/** getsockopt returning up to maxBytes of option value. */
export function getsockopt(fd: number, level: number, option: number, maxBytes = 4): Uint8Array {
  checkFd(fd);
  checkLength("getsockopt", maxBytes);
  const out = new Uint8Array(Math.max(1, maxBytes));
  const len = new Uint32Array([out.byteLength]);
  if (sym.getsockopt(fd, level, option, ptr(out), ptr(len)) < 0) {
    fail("getsockopt", `level=${level} option=${option}`);
  }
  return out.slice(0, Math.min(len[0] ?? 0, out.byteLength));
}

export function getsockoptInt(fd: number, level: number, option: number): number {
  const bytes = getsockopt(fd, level, option, 4);
  if (bytes.byteLength < 4) throw new SysError("getsockopt", Errno.EINVAL, "option shorter than an int");
  return new DataView(bytes.buffer, bytes.byteOffset).getInt32(0, true);
}

export function getsockname(fd: number): Uint8Array {
  checkFd(fd);
  const out = new Uint8Array(SOCKADDR_STORAGE_BYTES);
  const len = new Uint32Array([out.byteLength]);
  if (sym.getsockname(fd, ptr(out), ptr(len)) < 0) fail("getsockname");
  return out.slice(0, Math.min(len[0] ?? 0, out.byteLength));
}

/** Sends one datagram; returns bytes sent, or null when a nonblocking socket would block. */
export function sendto(fd: number, data: Uint8Array, flags = 0, sockaddr?: Uint8Array): number | null {
  checkFd(fd);
  checkLength("sendto", data.byteLength);
  const n = sym.sendto(
    fd,
    ptrOrNull(data),
    data.byteLength,
    flags,
    ptrOrNull(sockaddr),
    sockaddr?.byteLength ?? 0,
  );
  if (n < 0) {
    if (errno() === Errno.EAGAIN) return null;
    fail("sendto", `${data.byteLength} bytes`);
  }
  return Number(n);
}

export interface Received {
  /** Bytes copied into the caller's buffer (never more than its size). */
  readonly length: number;
  /** The sender's raw sockaddr (decode with ffi/sockaddr.ts). */
  readonly from: Uint8Array;
}

/** Receives one datagram into buf; null when a nonblocking socket has nothing (EAGAIN). */
export function recvfrom(fd: number, buf: Uint8Array, flags = 0): Received | null {
  checkFd(fd);
  checkLength("recvfrom", buf.byteLength);
  const from = new Uint8Array(SOCKADDR_STORAGE_BYTES);
  const fromLen = new Uint32Array([from.byteLength]);
  const n = sym.recvfrom(fd, ptrOrNull(buf), buf.byteLength, flags, ptr(from), ptr(fromLen));
  if (n < 0) {
    if (errno() === Errno.EAGAIN) return null;
    fail("recvfrom");
  }
  return {
    length: Math.min(Number(n), buf.byteLength),
    from: from.slice(0, Math.min(fromLen[0] ?? 0, from.byteLength)),
  };
}

export interface ReceivedMsg extends Received {
  /** Ancillary data as returned by the kernel (parse with ffi/cmsg.ts). */
  readonly control: Uint8Array;
  /** msg_flags: MSG.TRUNC when the datagram was larger than buf, MSG.CTRUNC when control was cut. */
  readonly flags: number;
  /** Full datagram length when MSG_TRUNC was passed in flags, else equal to length. */
  readonly datagramLength: number;
}

// struct msghdr on x86-64: name(8) namelen(4)+pad(4) iov(8) iovlen(8) control(8) controllen(8) flags(4)+pad(4)
const MSGHDR_BYTES = 56;
const IOVEC_BYTES = 16;

/** recvmsg with one iovec and an optional control buffer; null on EAGAIN. */
export function recvmsg(
  fd: number,
  buf: Uint8Array,
  control: Uint8Array | null,
  flags = 0,
): ReceivedMsg | null {
  checkFd(fd);
  checkLength("recvmsg", buf.byteLength);
  const from = new Uint8Array(SOCKADDR_STORAGE_BYTES);
  const iov = new Uint8Array(IOVEC_BYTES);
  const iovView = new DataView(iov.buffer);
  iovView.setBigUint64(0, BigInt(ptrOrNull(buf) ?? 0), true);
  iovView.setBigUint64(8, BigInt(buf.byteLength), true);
  const hdr = new Uint8Array(MSGHDR_BYTES);
  const h = new DataView(hdr.buffer);
  h.setBigUint64(0, BigInt(ptr(from)), true);
  h.setUint32(8, from.byteLength, true);
  h.setBigUint64(16, BigInt(ptr(iov)), true);
  h.setBigUint64(24, 1n, true);
  h.setBigUint64(32, BigInt(ptrOrNull(control) ?? 0), true);
  h.setBigUint64(40, BigInt(control?.byteLength ?? 0), true);
  const n = sym.recvmsg(fd, ptr(hdr), flags);
  if (n < 0) {
    if (errno() === Errno.EAGAIN) return null;
    fail("recvmsg");
  }
  const nameLen = Math.min(h.getUint32(8, true), from.byteLength);
  const controlLen = Math.min(Number(h.getBigUint64(40, true)), control?.byteLength ?? 0);
  const full = Number(n);
  return {
    length: Math.min(full, buf.byteLength),
    datagramLength: full,
    from: from.slice(0, nameLen),
    control: control ? control.slice(0, controlLen) : new Uint8Array(0),
    flags: h.getInt32(48, true),
  };
}

/** sendmsg with one iovec, an optional destination and optional control bytes; null on EAGAIN. */
export function sendmsg(
  fd: number,
  data: Uint8Array,
  options: { readonly to?: Uint8Array; readonly control?: Uint8Array; readonly flags?: number } = {},
): number | null {
  checkFd(fd);
  checkLength("sendmsg", data.byteLength);
  const iov = new Uint8Array(IOVEC_BYTES);
  const iovView = new DataView(iov.buffer);
  iovView.setBigUint64(0, BigInt(ptrOrNull(data) ?? 0), true);
  iovView.setBigUint64(8, BigInt(data.byteLength), true);
  const hdr = new Uint8Array(MSGHDR_BYTES);
  const h = new DataView(hdr.buffer);
  h.setBigUint64(0, BigInt(ptrOrNull(options.to) ?? 0), true);
  h.setUint32(8, options.to?.byteLength ?? 0, true);
  h.setBigUint64(16, BigInt(ptr(iov)), true);
  h.setBigUint64(24, 1n, true);
  h.setBigUint64(32, BigInt(ptrOrNull(options.control) ?? 0), true);
  h.setBigUint64(40, BigInt(options.control?.byteLength ?? 0), true);
  const n = sym.sendmsg(fd, ptr(hdr), options.flags ?? 0);
  if (n < 0) {
    if (errno() === Errno.EAGAIN) return null;
    fail("sendmsg", `${data.byteLength} bytes`);
  }
  return Number(n);
}

export interface PollRequest {
  readonly fd: number;
  readonly events: number;
}

/**
 * poll(2): returns revents per request, in order (0 = nothing happened). Blocks up to timeoutMs
 * (-1 = forever): call it with a timeout only from a Worker, or with 0 on the main thread.
 */
export function poll(requests: readonly PollRequest[], timeoutMs: number): number[] {
  if (requests.length === 0 || requests.length > 1024) {
    throw new SysError("poll", Errno.EINVAL, `${requests.length} descriptors`);
  }
  const fds = new Uint8Array(8 * requests.length);
  const v = new DataView(fds.buffer);
  requests.forEach((r, i) => {
    checkFd(r.fd);
    v.setInt32(i * 8, r.fd, true);
    v.setInt16(i * 8 + 4, r.events, true);
  });
  for (;;) {
    const rc = sym.poll(ptr(fds), requests.length, Math.trunc(timeoutMs));
    if (rc < 0) {
      if (errno() === Errno.EINTR) continue;
      fail("poll");
    }
    return requests.map((_, i) => v.getUint16(i * 8 + 6, true));
  }
}

export function setNonBlocking(fd: number, nonBlocking: boolean): void {
  checkFd(fd);
  const flags = sym.fcntl(fd, F_GETFL, 0);
  if (flags < 0) fail("fcntl(F_GETFL)");
  const wanted = nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (wanted !== flags && sym.fcntl(fd, F_SETFL, wanted) < 0) fail("fcntl(F_SETFL)");
}

export function isNonBlocking(fd: number): boolean {
  checkFd(fd);
  const flags = sym.fcntl(fd, F_GETFL, 0);
  if (flags < 0) fail("fcntl(F_GETFL)");
  return (flags & O_NONBLOCK) !== 0;
}

/** A nonblocking, close-on-exec eventfd: a cheap way to wake a thread blocked in poll(). */
export function eventfd(initial = 0): number {
  const fd = sym.eventfd(initial, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) fail("eventfd");
  return fd;
}

export function eventfdSignal(fd: number, value = 1n): void {
  checkFd(fd);
  const b = new BigUint64Array([value]);
  if (sym.write(fd, ptr(b), 8) < 0 && errno() !== Errno.EAGAIN) fail("write(eventfd)");
}

/** Reads and resets the counter; 0n when nothing was signalled. */
export function eventfdDrain(fd: number): bigint {
  checkFd(fd);
  const b = new BigUint64Array(1);
  if (sym.read(fd, ptr(b), 8) < 0) {
    if (errno() === Errno.EAGAIN) return 0n;
    fail("read(eventfd)");
  }
  return b[0] ?? 0n;
}

export function ifNameToIndex(name: string): number {
  if (name.length === 0 || name.length >= IFNAMSIZ) {
    throw new SysError("if_nametoindex", Errno.EINVAL, `bad interface name ${JSON.stringify(name)}`);
  }
  const index = sym.if_nametoindex(ptr(cString(name)));
  if (index === 0) fail("if_nametoindex", name);
  return index;
}

export function ifIndexToName(index: number): string {
  const buf = new Uint8Array(IFNAMSIZ);
  if (sym.if_indextoname(index >>> 0, ptr(buf)) === null) fail("if_indextoname", String(index));
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

const SYNC_FILE_RANGE_WRITE = 2;

/**
 * Starts writeback of a file's (or block device's) dirty pages in [offset, offset + length) without
 * waiting for it (sync_file_range SYNC_FILE_RANGE_WRITE): it overlaps the disk's work with the caller's.
 * Not durable by itself; an fsync afterwards is.
 */
export function startWriteback(fd: number, offset: number, length: number): void {
  checkFd(fd);
  if (sym.sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE) !== 0) fail("sync_file_range");
}

/** Moves the calling thread into the network namespace open at nsFd (only this thread). */
export function setnsNet(nsFd: number): void {
  checkFd(nsFd);
  if (sym.setns(nsFd, CLONE_NEWNET) < 0) fail("setns");
}

/** Frees memory that a C library allocated with malloc (used by the libnl binding). */
export function freeCMemory(p: Pointer | null): void {
  if (p !== null) sym.free(p);
}

export { AF, MSG };

/** glibc's struct termios on Linux is 60 bytes; a larger buffer costs nothing and guards the call. */
const TERMIOS_BYTES = 64;
const TCSANOW = 0;
/** Line speeds a serial console uses, as termios speed codes (asm-generic/termbits.h). */
const BAUD_CODES: ReadonlyMap<number, number> = new Map([
  [9600, 0o15],
  [19200, 0o16],
  [38400, 0o17],
  [57600, 0o10001],
  [115200, 0o10002],
]);

/** Sets a terminal's input and output speed (cfsetispeed/cfsetospeed, then tcsetattr TCSANOW). */
export function setTerminalSpeed(fd: number, baud: number): void {
  checkFd(fd);
  const code = BAUD_CODES.get(baud);
  if (code === undefined) throw new SysError("cfsetospeed", Errno.EINVAL, `unsupported line speed ${baud}`);
  const t = new Uint8Array(TERMIOS_BYTES);
  if (sym.tcgetattr(fd, ptr(t)) !== 0) fail("tcgetattr");
  if (sym.cfsetispeed(ptr(t), code) !== 0 || sym.cfsetospeed(ptr(t), code) !== 0) fail("cfsetospeed");
  if (sym.tcsetattr(fd, TCSANOW, ptr(t)) !== 0) fail("tcsetattr");
}

/** A terminal's output speed in baud, or undefined for a speed code outside BAUD_CODES. */
export function terminalSpeed(fd: number): number | undefined {
  checkFd(fd);
  const t = new Uint8Array(TERMIOS_BYTES);
  if (sym.tcgetattr(fd, ptr(t)) !== 0) fail("tcgetattr");
  const code = sym.cfgetospeed(ptr(t));
  for (const [baud, c] of BAUD_CODES) if (c === code) return baud;
  return undefined;
}

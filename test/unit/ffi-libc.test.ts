// libc, libnl and readiness bindings against the real kernel, using only loopback and unprivileged calls.
import { afterEach, describe, expect, test } from "bun:test";
import { cmsgSpace, encodeControlMessages, parseControlMessages } from "../../ffi/cmsg.ts";
import { AF, IP_OPT, MSG, NETLINK_PROTO, POLL, SOCK, SOL } from "../../ffi/constants.ts";
import { errnoName } from "../../ffi/errno.ts";
import { FdWatcher } from "../../ffi/fd-watcher.ts";
import * as libc from "../../ffi/libc.ts";
import { NlError, NlSocket, resolveGenlFamily } from "../../ffi/libnl.ts";
import { decodeSockaddr, sockaddrIn, sockaddrIn6, sockaddrLl, sockaddrNl } from "../../ffi/sockaddr.ts";
import { SysError } from "../../ffi/sys-error.ts";

const LOOPBACK = new Uint8Array([127, 0, 0, 1]);
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function udpSocket(): { fd: number; port: number } {
  const fd = libc.socket(AF.INET, SOCK.DGRAM | SOCK.NONBLOCK | SOCK.CLOEXEC, 0);
  cleanups.push(() => libc.close(fd));
  libc.bind(fd, sockaddrIn(LOOPBACK, 0));
  const name = decodeSockaddr(libc.getsockname(fd));
  if (name.family !== "inet") throw new Error("expected an inet sockaddr");
  return { fd, port: name.port };
}

describe("errno and SysError", () => {
  test("names", () => {
    expect(errnoName(11)).toBe("EAGAIN");
    expect(errnoName(17)).toBe("EEXIST");
    expect(errnoName(9999)).toBe("E9999");
  });

  test("a failing call throws SysError with errno name and syscall", () => {
    try {
      libc.close(987654);
      throw new Error("close should fail");
    } catch (err) {
      expect(err).toBeInstanceOf(SysError);
      expect((err as SysError).code).toBe("EBADF");
      expect((err as SysError).syscall).toBe("close");
    }
    expect(() => libc.ifNameToIndex("fnl-no-such0")).toThrow(SysError);
    expect(() => libc.socket(12345, SOCK.DGRAM, 0)).toThrow(SysError);
  });
});

describe("sockets over loopback", () => {
  test("sendto/recvfrom round trip; empty nonblocking socket returns null", () => {
    const a = udpSocket();
    const b = udpSocket();
    expect(libc.recvfrom(b.fd, new Uint8Array(64))).toBeNull();
    expect(libc.sendto(a.fd, new Uint8Array([1, 2, 3]), 0, sockaddrIn(LOOPBACK, b.port))).toBe(3);
    const [revents] = libc.poll([{ fd: b.fd, events: POLL.IN }], 1000);
    expect(revents! & POLL.IN).toBe(POLL.IN);
    const buf = new Uint8Array(64);
    const got = libc.recvfrom(b.fd, buf);
    expect(got?.length).toBe(3);
    expect([...buf.subarray(0, 3)]).toEqual([1, 2, 3]);
    const from = decodeSockaddr(got!.from);
    expect(from).toEqual({ family: "inet", port: a.port, address: LOOPBACK });
  });

  test("recvmsg returns control messages (IP_PKTINFO) and reports truncation", () => {
    const a = udpSocket();
    const b = udpSocket();
    libc.setsockopt(b.fd, SOL.IP, IP_OPT.PKTINFO, 1);
    libc.sendto(a.fd, new Uint8Array(100).fill(7), 0, sockaddrIn(LOOPBACK, b.port));
    libc.poll([{ fd: b.fd, events: POLL.IN }], 1000);
    const got = libc.recvmsg(b.fd, new Uint8Array(10), new Uint8Array(cmsgSpace(12)), MSG.TRUNC);
    expect(got).not.toBeNull();
    expect(got!.length).toBe(10);
    expect(got!.datagramLength).toBe(100);
    expect(got!.flags & MSG.TRUNC).toBe(MSG.TRUNC);
    const cmsgs = parseControlMessages(got!.control);
    expect(cmsgs.map((c) => [c.level, c.type])).toEqual([[SOL.IP, IP_OPT.PKTINFO]]);
    // struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }: addr is the destination.
    expect([...cmsgs[0]!.data.subarray(8, 12)]).toEqual([127, 0, 0, 1]);
    expect(libc.recvmsg(b.fd, new Uint8Array(10), null)).toBeNull();
  });

  test("setsockopt/getsockopt, nonblocking flag, ifNameToIndex", () => {
    const { fd } = udpSocket();
    libc.setsockopt(fd, SOL.IP, IP_OPT.TTL, 255);
    expect(libc.getsockoptInt(fd, SOL.IP, IP_OPT.TTL)).toBe(255);
    expect(libc.isNonBlocking(fd)).toBe(true);
    libc.setNonBlocking(fd, false);
    expect(libc.isNonBlocking(fd)).toBe(false);
    const lo = libc.ifNameToIndex("lo");
    expect(lo).toBeGreaterThan(0);
    expect(libc.ifIndexToName(lo)).toBe("lo");
  });

  test("eventfd signal and drain", () => {
    const fd = libc.eventfd();
    cleanups.push(() => libc.close(fd));
    expect(libc.eventfdDrain(fd)).toBe(0n);
    libc.eventfdSignal(fd, 2n);
    libc.eventfdSignal(fd, 3n);
    expect(libc.eventfdDrain(fd)).toBe(5n);
  });
});

describe("sockaddr and cmsg codecs", () => {
  test("round trips", () => {
    const v6 = new Uint8Array(16).fill(0xab);
    expect(decodeSockaddr(sockaddrIn6(v6, 112, 3, 7))).toEqual({
      family: "inet6",
      address: v6,
      port: 112,
      scopeId: 3,
      flowInfo: 7,
    });
    expect(decodeSockaddr(sockaddrNl(42, 1))).toEqual({ family: "netlink", portId: 42, groups: 1 });
    const mac = new Uint8Array([2, 0, 0, 0, 0, 9]);
    expect(decodeSockaddr(sockaddrLl({ protocol: 0x0806, ifindex: 4, address: mac }))).toEqual({
      family: "packet",
      protocol: 0x0806,
      ifindex: 4,
      hatype: 0,
      pkttype: 0,
      address: mac,
    });
    expect(() => sockaddrIn(new Uint8Array(3))).toThrow();
    expect(() => decodeSockaddr(new Uint8Array([2, 0]))).toThrow();
    const cm = [{ level: 41, type: 52, data: new Uint8Array([64, 0, 0, 0]) }];
    expect(parseControlMessages(encodeControlMessages(cm))).toEqual(cm);
    expect(() => parseControlMessages(new Uint8Array(16).fill(0xff))).toThrow();
  });
});

describe("libnl socket", () => {
  test("open, sequence numbers, dump links, nonblocking recv, idempotent close", () => {
    const s = NlSocket.open(NETLINK_PROTO.ROUTE);
    expect(s.fd).toBeGreaterThan(0);
    expect(s.localPort).toBeGreaterThan(0);
    const a = s.nextSeq();
    expect(s.nextSeq()).toBe((a + 1) >>> 0);
    expect(s.recvRaw()).toBeNull();
    const req = new Uint8Array(32);
    const v = new DataView(req.buffer);
    v.setUint32(0, 32, true);
    v.setUint16(4, 18, true); // RTM_GETLINK
    v.setUint16(6, 0x301, true); // REQUEST | DUMP
    v.setUint32(8, s.nextSeq(), true);
    s.sendRaw(req);
    const first = s.recvRaw();
    expect(first?.senderPort).toBe(0);
    expect(first!.data.byteLength).toBeGreaterThan(16);
    s.close();
    s.close();
    expect(() => s.recvRaw()).toThrow(NlError);
  });

  test("generic netlink resolution: nlctrl exists, an unknown family is a typed error", () => {
    const f = resolveGenlFamily("nlctrl", ["notify", "no-such-group"]);
    expect(f.id).toBe(16);
    expect(f.groups.get("notify")).toBeGreaterThan(0);
    expect(f.groups.has("no-such-group")).toBe(false);
    try {
      resolveGenlFamily("fnl-nonexist");
      throw new Error("expected NLE_OBJ_NOTFOUND");
    } catch (err) {
      expect(err).toBeInstanceOf(NlError);
      expect((err as NlError).code).toBe("NLE_OBJ_NOTFOUND");
    }
  });
});

describe("FdWatcher", () => {
  test("reports readability from a worker while the event loop keeps running", async () => {
    const a = udpSocket();
    const b = udpSocket();
    const w = new FdWatcher(b.fd);
    cleanups.push(() => w.close());
    expect(await w.waitReadable(50)).toBe("timeout");
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 2);
    const waiting = w.waitReadable(5000);
    const sendAt = Date.now();
    // Send only after the loop has demonstrably ticked while the wait is pending.
    while (ticks < 5 && Date.now() - sendAt < 2000) await Bun.sleep(1);
    libc.sendto(a.fd, new Uint8Array([9]), 0, sockaddrIn(LOOPBACK, b.port));
    expect(await waiting).toBe("readable");
    clearInterval(ticker);
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(libc.recvfrom(b.fd, new Uint8Array(8))?.length).toBe(1);
    await w.close();
    await w.close();
    await expect(w.waitReadable(10)).rejects.toThrow("closed");
  });
});

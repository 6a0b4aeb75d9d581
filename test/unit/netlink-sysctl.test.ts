// sysctl validation and change reporting over an in-memory /proc/sys (the real one: test/netns/sysctl.test.ts).
import { expect, test } from "bun:test";
import {
  applyIpv4Conf,
  SysctlError,
  type SysctlIo,
  setIpForward,
  setIpv4Conf,
} from "../../src/system/sysctl.ts";

function fakeProc(
  initial: Record<string, string>,
): SysctlIo & { files: Map<string, string>; writes: string[] } {
  const files = new Map(Object.entries(initial));
  const writes: string[] = [];
  return {
    files,
    writes,
    read: (p) => {
      const v = files.get(p);
      if (v === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
      return v;
    },
    write: (p, v) => {
      if (!files.has(p)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
      writes.push(p);
      files.set(p, v);
    },
  };
}

const conf = (i: string, k: string) => `/proc/sys/net/ipv4/conf/${i}/${k}`;

test("writes only what differs and reports before/after", () => {
  const io = fakeProc({ [conf("eth0", "arp_ignore")]: "0\n", [conf("eth0", "arp_filter")]: "1\n" });
  const changes = applyIpv4Conf("eth0", { arp_ignore: 1, arp_filter: true }, io);
  expect(changes).toEqual([{ path: conf("eth0", "arp_ignore"), before: 0, after: 1 }]);
  expect(io.writes).toEqual([conf("eth0", "arp_ignore")]);
  expect(applyIpv4Conf("eth0", { arp_ignore: 1, arp_filter: true }, io)).toEqual([]);
});

test("range and name validation happen before any write", () => {
  const io = fakeProc({ [conf("eth0", "arp_announce")]: "0" });
  expect(() => setIpv4Conf("eth0", "arp_announce", 3, io)).toThrow(SysctlError);
  expect(() => setIpv4Conf("eth0/../..", "arp_announce", 1, io)).toThrow(SysctlError);
  expect(() => setIpv4Conf("", "arp_announce", 1, io)).toThrow(SysctlError);
  expect(io.writes).toEqual([]);
});

test("a kernel that refuses the value, garbage contents and missing files are typed errors", () => {
  const stubborn: SysctlIo = { read: () => "0\n", write: () => {} };
  expect(() => setIpForward(true, stubborn)).toThrow("kernel kept 0");
  const garbage: SysctlIo = { read: () => "yes\n", write: () => {} };
  expect(() => setIpForward(true, garbage)).toThrow(SysctlError);
  const err = (() => {
    try {
      setIpv4Conf("nope0", "rp_filter", 1, fakeProc({}));
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(SysctlError);
  expect((err as SysctlError).code).toBe("ENOENT");
});

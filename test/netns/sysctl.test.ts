// Sysctl writes inside a namespace, read back with cat /proc/sys in that namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  applyIpv4Conf,
  applySystemSysctls,
  getIpForward,
  getIpv4Conf,
  SysctlError,
  setIpForward,
  setIpv4Conf,
} from "../../src/system/sysctl.ts";
import { createNetns, isRoot, type TestNetns, withNetns } from "../helpers/netns.ts";

describe.skipIf(!isRoot())("sysctl in a namespace", () => {
  let ns: TestNetns;
  beforeAll(() => {
    ns = createNetns("fnl-");
    ns.ip("link", "add", "fnl0", "type", "veth", "peer", "name", "fnl1");
  });
  afterAll(() => ns?.delete());

  test("ip_forward on and off, idempotent", async () => {
    expect(ns.sysctl("net/ipv4/ip_forward")).toBe("0");
    const first = await ns.run(() => setIpForward(true));
    expect(first).toEqual({ path: "/proc/sys/net/ipv4/ip_forward", before: 0, after: 1 });
    expect(ns.sysctl("net/ipv4/ip_forward")).toBe("1");
    expect(await ns.run(() => setIpForward(true))).toBeNull();
    expect(await ns.run(() => getIpForward())).toBe(true);
    await ns.run(() => setIpForward(false));
    expect(ns.sysctl("net/ipv4/ip_forward")).toBe("0");
  });

  test("per-interface ARP and routing values, then all/default", async () => {
    const changes = await ns.run(() =>
      applyIpv4Conf("fnl0", {
        arp_ignore: 1,
        arp_announce: 2,
        arp_filter: true,
        rp_filter: 2,
        send_redirects: false,
      }),
    );
    expect(changes.map((c) => c.path.split("/").pop())).toEqual([
      "arp_ignore",
      "arp_announce",
      "arp_filter",
      "rp_filter",
      "send_redirects",
    ]);
    expect(ns.sysctl("net/ipv4/conf/fnl0/arp_ignore")).toBe("1");
    expect(ns.sysctl("net/ipv4/conf/fnl0/arp_announce")).toBe("2");
    expect(ns.sysctl("net/ipv4/conf/fnl0/arp_filter")).toBe("1");
    expect(ns.sysctl("net/ipv4/conf/fnl0/rp_filter")).toBe("2");
    expect(ns.sysctl("net/ipv4/conf/fnl0/send_redirects")).toBe("0");
    // The host's value is untouched: the write went to the namespace.
    expect(ns.sysctl("net/ipv4/conf/fnl1/arp_ignore")).toBe("0");
    expect(await ns.run(() => applyIpv4Conf("fnl0", { arp_ignore: 1, send_redirects: false }))).toEqual([]);
    await ns.run(() => setIpv4Conf("all", "send_redirects", 0));
    expect(ns.sysctl("net/ipv4/conf/all/send_redirects")).toBe("0");
    expect(await ns.run(() => getIpv4Conf("default", "arp_announce"))).toBe(0);
  });

  test("bad values and names are typed errors; a missing interface says ENOENT", async () => {
    expect(() => setIpv4Conf("fnl0", "arp_ignore", 9)).toThrow(SysctlError);
    expect(() => setIpv4Conf("fnl0", "arp_announce", -1)).toThrow(SysctlError);
    expect(() => setIpv4Conf("../../x", "arp_ignore", 1)).toThrow(SysctlError);
    expect(() => setIpv4Conf("a-very-long-name-x", "arp_ignore", 1)).toThrow(SysctlError);
    const err = await ns.run(() => {
      try {
        setIpv4Conf("fnl-nope", "arp_ignore", 1);
        return null;
      } catch (e) {
        return e;
      }
    });
    expect(err).toBeInstanceOf(SysctlError);
    expect((err as SysctlError).code).toBe("ENOENT");
  });
});

describe.skipIf(!isRoot())("system sysctls in a namespace", () => {
  test("forwarding and nonlocal bind are written; absent IPVS keys are reported when off", async () => {
    await withNetns("fnl-", async (ns) => {
      const values = {
        ip_forward: true,
        ipv6_forwarding: true,
        ip_nonlocal_bind: true,
        vs_conntrack: false,
        vs_expire_nodest_conn: false,
        vs_expire_quiescent_template: false,
        vs_sloppy_tcp: false,
      };
      const report = await ns.run(() => applySystemSysctls(values));
      expect(ns.sysctl("net/ipv4/ip_forward")).toBe("1");
      expect(ns.sysctl("net/ipv6/conf/all/forwarding")).toBe("1");
      expect(ns.sysctl("net/ipv4/ip_nonlocal_bind")).toBe("1");
      expect(report.changes.length).toBeGreaterThanOrEqual(3);
      const ipvsLoaded = ns.exec("test", "-e", "/proc/sys/net/ipv4/vs/conntrack").code === 0;
      if (!ipvsLoaded) expect(report.unavailable).toContain("vs_conntrack");
      expect((await ns.run(() => applySystemSysctls(values))).changes).toEqual([]);
    });
  });
});

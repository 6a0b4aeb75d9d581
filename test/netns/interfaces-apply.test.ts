// applyInterfaces against the real kernel in a namespace; every result is read back with iproute2 and
// /proc/sys, never with our own netlink code.
import { afterEach, describe, expect, test } from "bun:test";
import pino from "pino";
import type { InterfaceConfig } from "../../src/config/types.ts";
import { Rtnetlink } from "../../src/netlink/rtnetlink.ts";
import { applyInterfaces, type InterfaceReport } from "../../src/system/interfaces.ts";
import { createNetns, isRoot, kernelSupportsLinkKind, type TestNetns } from "../helpers/netns.ts";

const log = pino({ level: "silent" });
const pos = { file: "test.toml", line: 1, col: 1 };

interface IpLink {
  ifname: string;
  mtu: number;
  flags: string[];
  link?: string;
  operstate: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; mode?: string } };
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
}

function iface(p: Partial<InterfaceConfig> & Pick<InterfaceConfig, "name" | "kind">): InterfaceConfig {
  return { up: true, addresses: [], routes: [], pos, ...p };
}

const HAS_VLAN = isRoot() && kernelSupportsLinkKind("vlan");
const HAS_DUMMY = isRoot() && kernelSupportsLinkKind("dummy");

function config(): InterfaceConfig[] {
  const specs: InterfaceConfig[] = [
    // Child listed before its parent: the apply must order parents first.
    iface({
      name: "fnlmv0",
      kind: "macvlan",
      link: "fnleth0",
      macvlan_mode: "bridge",
      addresses: ["192.0.2.20/24"],
      sysctl: { arp_ignore: 1, arp_announce: 2 },
    }),
    iface({
      name: "fnleth0",
      kind: "ethernet",
      mtu: 1450,
      addresses: ["192.0.2.10/24", "2001:db8:1::10/64"],
      routes: [
        { to: "default", via: "192.0.2.1", metric: 100 },
        { to: "198.51.100.0/24", via: "192.0.2.2", table: 100 },
        { to: "default", via: "2001:db8:1::1" },
      ],
      sysctl: { arp_ignore: 1, arp_announce: 2, arp_filter: true, rp_filter: 2, send_redirects: false },
    }),
    iface({ name: "fnlva", kind: "veth", link: "fnlvb", mtu: 1400, addresses: ["10.10.0.1/30"] }),
    iface({ name: "fnlvb", kind: "veth", link: "fnlva", up: false, addresses: ["10.10.0.2/30"] }),
  ];
  if (HAS_VLAN) {
    specs.push(
      iface({ name: "fnleth0.7", kind: "vlan", link: "fnleth0", vlan_id: 7, addresses: ["172.16.7.1/24"] }),
    );
  }
  if (HAS_DUMMY)
    specs.push(iface({ name: "fnldum0", kind: "dummy", mtu: 9000, addresses: ["203.0.113.1/32"] }));
  return specs;
}

/** A namespace with the "hardware" NIC fnleth0 (a veth end whose peer is up, so it gets carrier). */
function boxNamespace(): TestNetns {
  const ns = createNetns("fnl-");
  ns.ip("link", "add", "fnleth0", "type", "veth", "peer", "name", "fnlwire0");
  ns.ip("link", "set", "fnlwire0", "up");
  return ns;
}

async function apply(ns: TestNetns, specs: readonly InterfaceConfig[], hooks = {}): Promise<InterfaceReport> {
  return ns.run(async () => {
    const nl = Rtnetlink.open();
    try {
      return await applyInterfaces(nl, specs, log, hooks);
    } finally {
      await nl.close();
    }
  });
}

const namespaces: TestNetns[] = [];
afterEach(() => {
  for (const ns of namespaces.splice(0)) ns.delete();
});

describe.skipIf(!isRoot())("applyInterfaces", () => {
  test("creates and configures links, addresses, routes and sysctls; read back with ip -j and /proc/sys", async () => {
    const ns = boxNamespace();
    namespaces.push(ns);
    const report = await apply(ns, config());
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    const links = new Map(ns.ipJson<IpLink[]>("-d", "link").map((l) => [l.ifname, l]));
    const eth = links.get("fnleth0")!;
    expect(eth.mtu).toBe(1450);
    expect(eth.flags).toContain("UP");
    const mv = links.get("fnlmv0")!;
    expect(mv.linkinfo?.info_kind).toBe("macvlan");
    expect(mv.linkinfo?.info_data?.mode).toBe("bridge");
    expect(mv.link).toBe("fnleth0");
    expect(mv.flags).toContain("UP");
    expect(links.get("fnlva")?.linkinfo?.info_kind).toBe("veth");
    expect(links.get("fnlva")?.mtu).toBe(1400);
    expect(links.get("fnlva")?.flags).toContain("UP");
    expect(links.get("fnlvb")?.flags).not.toContain("UP");
    if (HAS_VLAN) expect(links.get("fnleth0.7")?.linkinfo?.info_data?.id).toBe(7);
    if (HAS_DUMMY) expect(links.get("fnldum0")?.mtu).toBe(9000);

    const addrs = new Map(
      ns.ipJson<IpAddr[]>("addr").map((a) => [a.ifname, a.addr_info.map((i) => `${i.local}/${i.prefixlen}`)]),
    );
    expect(addrs.get("fnleth0")).toEqual(expect.arrayContaining(["192.0.2.10/24", "2001:db8:1::10/64"]));
    expect(addrs.get("fnlmv0")).toEqual(expect.arrayContaining(["192.0.2.20/24"]));
    expect(addrs.get("fnlva")).toEqual(expect.arrayContaining(["10.10.0.1/30"]));
    expect(addrs.get("fnlvb")).toEqual(expect.arrayContaining(["10.10.0.2/30"]));

    const v4 = ns.ipJson<IpRoute[]>("route", "show");
    expect(v4).toContainEqual(
      expect.objectContaining({ dst: "default", gateway: "192.0.2.1", dev: "fnleth0", metric: 100 }),
    );
    const t100 = ns.ipJson<IpRoute[]>("route", "show", "table", "100");
    expect(t100).toContainEqual(
      expect.objectContaining({ dst: "198.51.100.0/24", gateway: "192.0.2.2", dev: "fnleth0" }),
    );
    const v6 = ns.ipJson<IpRoute[]>("-6", "route", "show");
    expect(v6).toContainEqual(
      expect.objectContaining({ dst: "default", gateway: "2001:db8:1::1", dev: "fnleth0" }),
    );

    const sys = (i: string, k: string) => ns.sysctl(`net/ipv4/conf/${i}/${k}`);
    expect([
      sys("fnleth0", "arp_ignore"),
      sys("fnleth0", "arp_announce"),
      sys("fnleth0", "arp_filter"),
    ]).toEqual(["1", "2", "1"]);
    expect([sys("fnleth0", "rp_filter"), sys("fnleth0", "send_redirects")]).toEqual(["2", "0"]);
    expect([sys("fnlmv0", "arp_ignore"), sys("fnlmv0", "arp_announce")]).toEqual(["1", "2"]);
    // The kernel ORs conf.all.send_redirects into every interface: an interface configured off lowers
    // "all" as well (so the director sends no redirects there), while other links keep their own 1.
    expect(sys("all", "send_redirects")).toBe("0");
    expect(sys("lo", "send_redirects")).toBe("1");
    expect(report.changes).toContainEqual(
      expect.objectContaining({
        kind: "sysctl",
        name: "all",
        path: expect.stringContaining("all/send_redirects"),
      }),
    );
  });

  test("is idempotent: a second run changes nothing", async () => {
    const ns = boxNamespace();
    namespaces.push(ns);
    const first = await apply(ns, config());
    expect(first.ok).toBe(true);
    expect(first.changes.length).toBeGreaterThan(10);
    // What the apply manages: links, MTUs, admin state, addresses and routes. Not what the kernel changes
    // on its own meanwhile (carrier, operstate, IPv6 link-local addresses and their DAD flags).
    const managed = () => {
      type Link = {
        ifname: string;
        mtu: number;
        flags: string[];
        addr_info: { local: string; prefixlen: number; scope: string }[];
      };
      const links = ns.ipJson<Link[]>("addr").map((l) => ({
        ifname: l.ifname,
        mtu: l.mtu,
        up: l.flags.includes("UP"),
        addresses: l.addr_info.filter((a) => a.scope !== "link").map((a) => `${a.local}/${a.prefixlen}`),
      }));
      type Route = { type?: string; dst: string; dev?: string; gateway?: string; table?: string };
      const routes = ns
        .ipJson<Route[]>("route", "show", "table", "all")
        .filter((r) => !/^(fe80|ff00)/.test(r.dst))
        .map((r) => `${r.type ?? "unicast"} ${r.dst} ${r.gateway ?? ""} ${r.dev ?? ""} ${r.table ?? "main"}`)
        .sort();
      return JSON.stringify({ links, routes });
    };
    const before = managed();
    const second = await apply(ns, config());
    expect(second.problems).toEqual([]);
    expect(second.changes).toEqual([]);
    expect(managed()).toBe(before);
  });

  test("writes the ARP sysctls before the link goes up", async () => {
    const ns = boxNamespace();
    namespaces.push(ns);
    const seen: { name: string; state: string[]; arpIgnore: string; arpAnnounce: string }[] = [];
    const report = await apply(ns, config(), {
      beforeLinkUp: (name: string) => {
        // Observed from outside with iproute2 and /proc, at the moment just before our "up".
        const link = ns.ipJson<IpLink[]>("link", "show", "dev", name)[0]!;
        seen.push({
          name,
          state: link.flags,
          arpIgnore: ns.sysctl(`net/ipv4/conf/${name}/arp_ignore`),
          arpAnnounce: ns.sysctl(`net/ipv4/conf/${name}/arp_announce`),
        });
      },
    });
    expect(report.ok).toBe(true);
    const eth = seen.find((s) => s.name === "fnleth0")!;
    const mv = seen.find((s) => s.name === "fnlmv0")!;
    for (const s of [eth, mv]) {
      expect(s.state).not.toContain("UP");
      expect([s.arpIgnore, s.arpAnnounce]).toEqual(["1", "2"]);
    }
    // Parent before child, and the up order follows.
    expect(seen.findIndex((s) => s.name === "fnleth0")).toBeLessThan(
      seen.findIndex((s) => s.name === "fnlmv0"),
    );
    const ups = report.changes
      .filter((c) => c.kind === "link-up" || c.kind === "sysctl")
      .map((c) => `${c.kind}:${c.name}`);
    expect(ups.indexOf("sysctl:fnleth0")).toBeLessThan(ups.indexOf("link-up:fnleth0"));
  });

  test("leaves what it did not create alone and reports it", async () => {
    const ns = boxNamespace();
    namespaces.push(ns);
    ns.ip("addr", "add", "192.0.2.99/24", "dev", "fnleth0");
    ns.ip("link", "set", "fnleth0", "up");
    ns.ip("route", "add", "198.51.100.0/24", "via", "192.0.2.3", "table", "100");
    const report = await apply(ns, config());
    const whats = report.differences.map((d) => `${d.name}: ${d.what}`);
    expect(whats).toContainEqual(expect.stringContaining("192.0.2.99/24"));
    expect(whats).toContainEqual(expect.stringContaining("198.51.100.0/24"));
    const addrs = ns.ipJson<IpAddr[]>("addr", "show", "dev", "fnleth0")[0]!.addr_info.map((a) => a.local);
    expect(addrs).toContain("192.0.2.99");
    const t100 = ns.ipJson<IpRoute[]>("route", "show", "table", "100");
    expect(t100.map((r) => r.gateway)).toEqual(["192.0.2.3"]);
  });

  test("a missing ethernet NIC and its children are problems; the rest is still applied", async () => {
    const ns = createNetns("fnl-");
    namespaces.push(ns);
    const specs = [
      iface({ name: "fnlgone0", kind: "ethernet", addresses: ["192.0.2.1/24"] }),
      iface({ name: "fnlmv9", kind: "macvlan", link: "fnlgone0" }),
      iface({ name: "fnlva", kind: "veth", link: "fnlvb", addresses: ["10.10.0.1/30"] }),
    ];
    const report = await apply(ns, specs);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.name).sort()).toEqual(["fnlgone0", "fnlmv9"]);
    expect(ns.ipJson<IpAddr[]>("addr", "show", "dev", "fnlva")[0]!.addr_info.map((a) => a.local)).toContain(
      "10.10.0.1",
    );
  });
});

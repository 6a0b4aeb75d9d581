// rtnetlink operations against the real kernel inside a throwaway namespace, read back with iproute2.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NlWriter } from "../../src/netlink/attrs.ts";
import { KernelError } from "../../src/netlink/errors.ts";
import { Rtnetlink } from "../../src/netlink/rtnetlink.ts";
import { encodeIfAddrMsg } from "../../src/netlink/rtnl-codec.ts";
import { createNetns, isRoot, kernelSupportsLinkKind, type TestNetns } from "../helpers/netns.ts";

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  flags: string[];
  link?: string;
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
  protocol?: string;
  table?: string;
}

describe.skipIf(!isRoot())("rtnetlink in a namespace", () => {
  let ns: TestNetns;
  let rt: Rtnetlink;

  beforeAll(async () => {
    ns = createNetns("fnl-");
    rt = await ns.run(() => Rtnetlink.open());
  });
  afterAll(async () => {
    await rt?.close();
    ns?.delete();
  });

  const link = (name: string) => ns.ipJson<IpLink[]>("-d", "link", "show", "dev", name)[0]!;

  test("create a veth pair with MTU, list links, match iproute2", async () => {
    await rt.createVeth("fnl0", "fnl1", { mtu: 1400 });
    const ours = await rt.listLinks();
    const theirs = ns.ipJson<IpLink[]>("link");
    expect(ours.map((l) => [l.index, l.name]).sort()).toEqual(
      theirs.map((l) => [l.ifindex, l.ifname]).sort(),
    );
    expect(link("fnl0").mtu).toBe(1400);
    expect(link("fnl1").mtu).toBe(1400);
    expect(link("fnl0").linkinfo?.info_kind).toBe("veth");
    const fnl0 = ours.find((l) => l.name === "fnl0")!;
    expect(fnl0.kind).toBe("veth");
    expect(fnl0.parentIndex).toBe(link("fnl1").ifindex);
    expect(await rt.getLink("fnl-none")).toBeNull();
  });

  test("duplicate create is a KernelError EEXIST", async () => {
    const err = await rt.createVeth("fnl0", "fnl9").catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe("EEXIST");
  });

  test("set up/down and MTU", async () => {
    await rt.setLinkUp("fnl0", true);
    await rt.setLinkUp("fnl1", true);
    expect(link("fnl0").flags).toContain("UP");
    await rt.setMtu("fnl0", 1300);
    expect(link("fnl0").mtu).toBe(1300);
    await rt.setLinkUp("fnl1", false);
    expect(link("fnl1").flags).not.toContain("UP");
    expect((await rt.getLink("fnl1"))?.up).toBe(false);
    await rt.setLinkUp("fnl1", true);
  });

  test("macvlan on a parent, with mode", async () => {
    await rt.createMacvlan("fnlmv0", "fnl0", "private");
    const l = link("fnlmv0");
    expect(l.linkinfo?.info_kind).toBe("macvlan");
    expect(l.linkinfo?.info_data?.mode).toBe("private");
    expect(l.link).toBe("fnl0");
    expect((await rt.getLink("fnlmv0"))?.macvlanMode).toBe("private");
    await rt.deleteLink("fnlmv0");
    expect(ns.tryIp("link", "show", "dev", "fnlmv0").code).not.toBe(0);
  });

  test.skipIf(!isRoot() || !kernelSupportsLinkKind("vlan"))("vlan with id", async () => {
    await rt.createVlan("fnl0.42", "fnl0", 42);
    expect(link("fnl0.42").linkinfo?.info_data?.id).toBe(42);
    expect((await rt.getLink("fnl0.42"))?.vlanId).toBe(42);
  });

  test.skipIf(!isRoot() || !kernelSupportsLinkKind("dummy"))("dummy", async () => {
    await rt.createDummy("fnldum0", { mtu: 9000 });
    expect(link("fnldum0").linkinfo?.info_kind).toBe("dummy");
    expect(link("fnldum0").mtu).toBe(9000);
  });

  test("addresses: add and delete IPv4 and IPv6, EEXIST on duplicate, list matches iproute2", async () => {
    await rt.addAddress("fnl0", "192.0.2.1/24");
    await rt.addAddress("fnl0", "2001:db8:0:1::1/64", { noDad: true });
    const addrs = ns.ipJson<IpAddr[]>("addr", "show", "dev", "fnl0")[0]!.addr_info;
    expect(addrs).toContainEqual(
      expect.objectContaining({ family: "inet", local: "192.0.2.1", prefixlen: 24 }),
    );
    expect(addrs).toContainEqual(
      expect.objectContaining({ family: "inet6", local: "2001:db8:0:1::1", prefixlen: 64 }),
    );
    const dup = await rt.addAddress("fnl0", "192.0.2.1/24").catch((e) => e);
    expect(dup).toBeInstanceOf(KernelError);
    expect(dup.code).toBe("EEXIST");
    const index = (await rt.requireLink("fnl0")).index;
    const ours = await rt.listAddresses({ index });
    expect(ours.map((a) => `${a.address}/${a.prefixLength}`).sort()).toEqual(
      addrs.map((a) => `${a.local}/${a.prefixlen}`).sort(),
    );
    await rt.deleteAddress("fnl0", "2001:db8:0:1::1/64");
    const after = ns.ipJson<IpAddr[]>("addr", "show", "dev", "fnl0")[0]!.addr_info;
    expect(after.some((a) => a.local === "2001:db8:0:1::1")).toBe(false);
    const gone = await rt.deleteAddress("fnl0", "2001:db8:0:1::1/64").catch((e) => e);
    expect(gone).toBeInstanceOf(KernelError);
  });

  test("routes: add default via with metric, table route, replace, delete", async () => {
    await rt.addRoute({ to: "default", via: "192.0.2.254", dev: "fnl0", metric: 50 });
    await rt.addRoute({ to: "198.51.100.0/24", dev: "fnl0", table: 1000 });
    let main = ns.ipJson<IpRoute[]>("route", "show");
    expect(main).toContainEqual(
      expect.objectContaining({
        dst: "default",
        gateway: "192.0.2.254",
        dev: "fnl0",
        metric: 50,
        protocol: "static",
      }),
    );
    const t1000 = ns.ipJson<IpRoute[]>("route", "show", "table", "1000");
    expect(t1000).toContainEqual(expect.objectContaining({ dst: "198.51.100.0/24", dev: "fnl0" }));
    const ours = await rt.listRoutes({ family: 4, table: 1000 });
    expect(ours.map((r) => r.dst)).toEqual(["198.51.100.0/24"]);

    await rt.replaceRoute({ to: "default", via: "192.0.2.253", dev: "fnl0", metric: 50 });
    main = ns.ipJson<IpRoute[]>("route", "show");
    expect(main.filter((r) => r.dst === "default").map((r) => r.gateway)).toEqual(["192.0.2.253"]);

    await rt.deleteRoute({ to: "default", via: "192.0.2.253", metric: 50 });
    main = ns.ipJson<IpRoute[]>("route", "show");
    expect(main.some((r) => r.dst === "default")).toBe(false);
    const err = await rt.addRoute({ to: "203.0.113.0/24", via: "10.9.9.9" }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError); // gateway not reachable
  });

  test("a batch of 300 address adds goes through in chunks, each acked", async () => {
    const index = (await rt.requireLink("fnl1")).index;
    const reqs = Array.from({ length: 300 }, (_, i) => ({
      type: 20, // RTM_NEWADDR
      flags: 0x400 | 0x200, // CREATE | EXCL
      payload: new NlWriter()
        .raw(encodeIfAddrMsg({ family: 2, prefixLength: 32, flags: 0, scope: 0, index }))
        .attr(2, new Uint8Array([10, 77, i >> 8, i & 0xff]))
        .finish(),
    }));
    reqs[7] = { ...reqs[7]!, payload: reqs[7]!.payload.slice(0, 8) }; // no address: the kernel refuses this one
    const results = await rt.client.batch(reqs);
    expect(results.filter((r) => r.ok).length).toBe(299);
    expect(results[7]!.ok).toBe(false);
    const n = ns
      .ipJson<IpAddr[]>("addr", "show", "dev", "fnl1")[0]!
      .addr_info.filter((a) => a.local.startsWith("10.77.")).length;
    expect(n).toBe(299);
  });
});

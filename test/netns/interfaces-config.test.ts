// The interface section of a shipped example config, loaded by the real loader and applied in a
// namespace whose "hardware" NICs are veth ends; read back with iproute2 and /proc/sys.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import pino from "pino";
import { parseConfig } from "../../src/config/load.ts";
import { Rtnetlink } from "../../src/netlink/rtnetlink.ts";
import { applyInterfaces } from "../../src/system/interfaces.ts";
import { isRoot, withNetns } from "../helpers/netns.ts";

const EXAMPLE = new URL("../../examples/dr-web-a.toml", import.meta.url).pathname;

describe.skipIf(!isRoot())("example config interface section", () => {
  test("dr-web-a: addresses, default route and director ARP sysctls, idempotent", async () => {
    const loaded = parseConfig(readFileSync(EXAMPLE, "utf8"), EXAMPLE);
    if (!loaded.ok) throw new Error(`example config does not load: ${JSON.stringify(loaded.errors)}`);
    const specs = loaded.config.interfaces;
    expect(specs.map((s) => s.name)).toEqual(["eth0", "eth1"]);

    await withNetns("fnl-", async (ns) => {
      for (const nic of ["eth0", "eth1"]) {
        ns.ip("link", "add", nic, "type", "veth", "peer", "name", `${nic}-wire`);
        ns.ip("link", "set", `${nic}-wire`, "up");
      }
      const run = () =>
        ns.run(async () => {
          const nl = Rtnetlink.open();
          try {
            return await applyInterfaces(nl, specs, pino({ level: "silent" }));
          } finally {
            await nl.close();
          }
        });
      const first = await run();
      expect(first.problems).toEqual([]);

      const addrs =
        ns.ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number }[] }[]>("addr");
      const of = (n: string) =>
        addrs.find((a) => a.ifname === n)?.addr_info.map((i) => `${i.local}/${i.prefixlen}`);
      expect(of("eth0")).toContain("10.0.1.2/24");
      expect(of("eth1")).toContain("10.0.9.11/24");
      const routes = ns.ipJson<{ dst: string; gateway?: string; dev: string }[]>("route");
      expect(routes).toContainEqual(
        expect.objectContaining({ dst: "default", gateway: "10.0.1.1", dev: "eth0" }),
      );
      const links = ns.ipJson<{ ifname: string; mtu: number; flags: string[] }[]>("link");
      expect(links.find((l) => l.ifname === "eth0")?.flags).toContain("UP");

      // Whatever the director role resolves to in the loaded config is what /proc/sys must show.
      const eth0 = specs.find((s) => s.name === "eth0")!;
      expect(eth0.sysctl).toBeDefined();
      for (const [key, value] of Object.entries(eth0.sysctl ?? {})) {
        const want = typeof value === "boolean" ? (value ? "1" : "0") : String(value);
        expect(`${key}=${ns.sysctl(`net/ipv4/conf/eth0/${key}`)}`).toBe(`${key}=${want}`);
      }

      const second = await run();
      expect(second.changes).toEqual([]);
      expect(second.problems).toEqual([]);
    });
  });
});

// use_vmac: the VIP lives on a macvlan "vrrp.51" with MAC 00:00:5e:00:01:33; after a failover the client's
// ARP entry is still right and only the bridge relearns where the MAC is.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isRoot, Lab, waitFor } from "./vrrp-lab.ts";

const VIP = "10.86.0.100";
const VMAC = "00:00:5e:00:01:33";
const hosts = { r1: "10.86.0.1", r2: "10.86.0.2", c: "10.86.0.50" } as const;

function spec(priority: number) {
  return {
    instances: [
      {
        name: "vi",
        interface: "eth0",
        virtual_router_id: 51,
        priority,
        advert_int: 0.1,
        use_vmac: true,
        virtual_ipaddress: [`${VIP}/24`],
      },
    ],
  };
}

describe.skipIf(!isRoot)("use_vmac (netns)", () => {
  let lab: Lab;
  beforeAll(() => {
    lab = Lab.create(hosts);
  });
  afterAll(() => {
    lab?.destroy();
  });

  const vmac = (host: string) => {
    const j = JSON.parse(
      lab.exec(host, ["ip", "-j", "addr", "show", "dev", "vrrp.51"], { allowFail: true }) || "[]",
    ) as Array<{
      address?: string;
      addr_info: Array<{ local: string }>;
    }>;
    return j[0];
  };
  const ping = () =>
    lab.exec("c", ["ping", "-c", "1", "-W", "1", VIP], { allowFail: true }).includes("1 received");

  test("master holds the VIP on the VMAC; failover keeps the client's ARP entry and traffic", async () => {
    const r1 = lab.startFulcrum("r1", spec(100));
    const r2 = lab.startFulcrum("r2", spec(200));
    try {
      await waitFor("r2 master", () => r2.role() === "master" && r1.role() === "backup", 5000);
      expect(vmac("r2")?.address).toBe(VMAC);
      expect(vmac("r2")?.addr_info.map((a) => a.local)).toContain(VIP);
      expect(vmac("r1")?.address).toBe(VMAC); // the backup's VMAC is there, idle and without the VIP
      expect(vmac("r1")?.addr_info.map((a) => a.local)).not.toContain(VIP);
      expect(lab.hasAddress("r2", VIP)).toBe(false); // not on eth0
      await waitFor("client reaches the VIP", ping, 3000);
      expect(lab.neigh("c", VIP)).toBe(VMAC);

      // r2 dies: its link goes and the process is killed.
      lab.exec("r2", ["ip", "link", "set", "eth0", "down"]);
      r2.kill("SIGKILL");
      await waitFor("r1 master", () => r1.role() === "master", 3000);
      expect(vmac("r1")?.addr_info.map((a) => a.local)).toContain(VIP);
      await waitFor("client reaches the VIP through r1", ping, 3000);
      expect(lab.neigh("c", VIP)).toBe(VMAC); // unchanged: that is the point of a virtual MAC

      r1.kill("SIGTERM");
      await waitFor("r1 exited", () => r1.exited, 3000);
      expect(vmac("r1")).toBeUndefined(); // the VMAC interface it created is gone
    } finally {
      r1.kill("SIGKILL");
      r2.kill("SIGKILL");
    }
  }, 30_000);
});

// The lab: two appliance guests on a bridge in a namespace, three DR real servers and a client in
// their own namespaces. Everyone reaches everyone over the bridge; teardown leaves nothing behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { drLabOptions, Lab, leftovers, sweepLab, VIP } from "../../qemu/lab.ts";
import { listNetns } from "../../qemu/topology.ts";
import {
  GUEST_SETUP_TIMEOUT_MS,
  guestTestsEnabled,
  labImage,
  SHELL_TEST_TIMEOUT_MS,
} from "../helpers/qemu.ts";

const PREFIX = "flab-t-";

describe.skipIf(!guestTestsEnabled)("lab: two guests, bridge, DR real servers, client", () => {
  let lab: Lab | undefined;

  beforeAll(async () => {
    const image = await labImage();
    lab = await Lab.start({ ...drLabOptions(PREFIX, image), log: (l) => process.stderr.write(`  ${l}\n`) });
    await lab.ensureAddresses();
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await lab?.stop();
    await sweepLab(PREFIX);
  });

  test(
    "the namespaces and taps exist while the lab runs",
    async () => {
      const ns = await listNetns();
      for (const n of ["br", "cl", "rs1", "rs2", "rs3"]) expect(ns).toContain(`${PREFIX}${n}`);
      const taps = await lab!.network.exec(lab!.network.bridgeNs, [
        "ip",
        "-br",
        "link",
        "show",
        "type",
        "tun",
      ]);
      for (const t of ["tap-a0", "tap-a1", "tap-b0", "tap-b1"]) expect(taps.stdout).toContain(t);
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "each guest got its config through fw_cfg and loaded it",
    () => {
      for (const id of ["a", "b"]) {
        const serial = lab!.guest(id).serial;
        expect(serial.text()).toContain("config seeded from QEMU fw_cfg into /data/config/fulcrum.toml");
        expect(serial.events().some((e) => e["event"] === "config.loaded")).toBe(true);
      }
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test("each guest pings the other guest and every real server over the bridge", async () => {
    const peers: Record<string, string> = { a: "10.0.1.3", b: "10.0.1.2" };
    for (const id of ["a", "b"]) {
      for (const ip of [peers[id], "10.0.1.11", "10.0.1.12", "10.0.1.13", "10.0.1.50"]) {
        const r = await lab!.guest(id).shell.run(`ping -c 1 -W 3 ${ip}`, 15_000);
        expect({ from: id, to: ip, code: r.code }).toEqual({ from: id, to: ip, code: 0 });
      }
    }
    const mgmt = await lab!.guest("a").shell.run("ping -c 1 -W 3 10.0.9.12", 15_000);
    expect(mgmt.code).toBe(0);
  }, 120_000);

  test(
    "the client reaches the guests, and the real servers answer with their own names",
    async () => {
      const net = lab!.network;
      expect((await net.exec(net.clientNs, ["ping", "-c", "1", "-W", "3", "10.0.1.2"])).code).toBe(0);
      for (const n of [1, 2, 3]) {
        const r = await net.exec(net.serverNs(`rs${n}`), ["curl", "-s", "-m", "5", `http://10.0.1.1${n}/`]);
        expect(r.stdout).toBe(`rs${n}\n`);
      }
      // DR preparation: the VIP is on the real servers' lo, and they do not answer ARP for it.
      const lo = await net.exec(net.serverNs("rs1"), ["ip", "-4", "-o", "addr", "show", "dev", "lo"]);
      expect(lo.stdout).toContain(`${VIP}/32`);
      const arp = await net.exec(net.serverNs("rs1"), ["sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore"]);
      expect(arp.stdout.trim()).toBe("1");
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "QMP faults: set_link takes the guest's carrier down and up, stop/cont freeze and resume it",
    async () => {
      const b = lab!.guest("b");
      await b.qmp("set_link", { name: "n0", up: false });
      expect((await b.shell.check("cat /sys/class/net/eth0/carrier")).trim()).toBe("0");
      await b.qmp("set_link", { name: "n0", up: true });
      expect((await b.shell.check("cat /sys/class/net/eth0/carrier")).trim()).toBe("1");
      await b.qmp("stop");
      expect(((await b.qmp("query-status")) as { status: string }).status).toBe("paused");
      const frozen = await lab!.guest("a").shell.run("ping -c 1 -W 2 10.0.1.3", 15_000);
      expect(frozen.code).not.toBe(0);
      await b.qmp("cont");
      expect(((await b.qmp("query-status")) as { status: string }).status).toBe("running");
      const back = await lab!.guest("a").shell.run("ping -c 3 -W 3 10.0.1.3", 20_000);
      expect(back.code).toBe(0);
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test("teardown leaves no namespace, tap or qemu process behind", async () => {
    await lab!.stop();
    const left = await leftovers(PREFIX);
    expect(left).toEqual({ netns: [], qemu: [] });
    const links = Bun.spawnSync(["ip", "-o", "link"]).stdout.toString();
    expect(links).not.toMatch(/tap-[ab][01]/);
  }, 60_000);
});

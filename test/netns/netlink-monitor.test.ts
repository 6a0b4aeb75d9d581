// Link-change notifications from the real kernel, received without blocking the event loop.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type MonitorEvent, RtnlMonitor } from "../../src/netlink/monitor.ts";
import type { Link } from "../../src/netlink/rtnl-codec.ts";
import { RTNLGRP } from "../../src/netlink/rtnl-constants.ts";
import { createNetns, isRoot, type TestNetns } from "../helpers/netns.ts";

type LinkEvent = Extract<MonitorEvent, { kind: "link" }>;
const linkEvent =
  (name: string, pred: (l: Link) => boolean) =>
  (e: MonitorEvent): e is LinkEvent =>
    e.kind === "link" && e.link.name === name && pred(e.link);

describe.skipIf(!isRoot())("rtnetlink link notifications", () => {
  let ns: TestNetns;
  let mon: RtnlMonitor;

  beforeAll(async () => {
    ns = createNetns("fnl-");
    mon = await ns.run(() => RtnlMonitor.open([RTNLGRP.LINK, RTNLGRP.IPV4_IFADDR]));
  });
  afterAll(async () => {
    await mon?.close();
    ns?.delete();
  });

  test("creating a veth and setting its peer down arrive as link events; the loop keeps ticking", async () => {
    ns.ip("link", "add", "fnl0", "type", "veth", "peer", "name", "fnl1");
    const created = await mon.waitFor(
      linkEvent("fnl1", () => true),
      5000,
    );
    expect(created?.op).toBe("new");
    expect(created?.link.kind).toBe("veth");

    ns.ip("link", "set", "fnl0", "up");
    ns.ip("link", "set", "fnl1", "up");
    const up = await mon.waitFor(
      linkEvent("fnl0", (l) => l.up && l.lowerUp),
      5000,
    );
    expect(up?.link.operState).toBe("up");

    let ticks = 0;
    const ticker = setInterval(() => ticks++, 2);
    try {
      const waiting = mon.waitFor(
        linkEvent("fnl0", (l) => !l.lowerUp),
        5000,
      );
      // Change the peer only once the loop has visibly run while the wait is pending.
      const until = Date.now() + 2000;
      while (ticks < 5 && Date.now() < until) await Bun.sleep(1);
      const ticksBefore = ticks;
      const proc = Bun.spawn(["ip", "-n", ns.name, "link", "set", "fnl1", "down"]);
      const down = await waiting;
      expect(await proc.exited).toBe(0);
      expect(ticksBefore).toBeGreaterThanOrEqual(5);
      expect(down).not.toBeNull();
      expect(down!.link.up).toBe(true); // fnl0 itself stays administratively up
      expect(down!.link.lowerUp).toBe(false); // but loses carrier with its peer down
    } finally {
      clearInterval(ticker);
    }
  });

  test("address notifications arrive on the IPv4 address group", async () => {
    ns.ip("addr", "add", "192.0.2.9/24", "dev", "fnl0");
    const e = await mon.waitFor((x) => x.kind === "address" && x.address.address === "192.0.2.9", 5000);
    expect(e).not.toBeNull();
  });

  test("deleting the link arrives as a del event; next() times out when idle", async () => {
    ns.ip("link", "del", "fnl0");
    const del = await mon.waitFor((e) => e.kind === "link" && e.op === "del" && e.link.name === "fnl0", 5000);
    expect(del).not.toBeNull();
    // Drain whatever else the deletion produced, then expect silence.
    while ((await mon.next(200)) !== null) {}
    expect(await mon.next(50)).toBeNull();
  });
});

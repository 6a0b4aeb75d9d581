// Three fulcrum VRRP runners on a bridge with a client: election, SIGKILL and SIGTERM failover seen in the
// client's ARP cache, tracking, operator failover, and tshark's verdict on the packets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { CLIENT_ARP_DEADLINE_MS, isRoot, Lab, type Runner, waitFor } from "./vrrp-lab.ts";

const VIP = "10.78.0.100";
const INTERVAL_S = 0.1;
const hosts = { r1: "10.78.0.1", r2: "10.78.0.2", r3: "10.78.0.3", c: "10.78.0.50" } as const;
const priorities = { r1: 100, r2: 150, r3: 200 } as const;

function spec(host: keyof typeof priorities, extra: object = {}) {
  return {
    instances: [
      {
        name: "vi",
        interface: "eth0",
        virtual_router_id: 51,
        priority: priorities[host],
        advert_int: INTERVAL_S,
        virtual_ipaddress: [`${VIP}/24`],
        track_service: [{ name: "web", weight: -120 }],
        ...extra,
      },
    ],
  };
}

describe.skipIf(!isRoot)("vrrp between three fulcrum runners (netns)", () => {
  let lab: Lab;
  const runners: Partial<Record<keyof typeof priorities, Runner>> = {};
  const start = (h: keyof typeof priorities) => {
    runners[h] = lab.startFulcrum(h, spec(h));
    return runners[h]!;
  };
  const masters = () =>
    (Object.keys(priorities) as (keyof typeof priorities)[]).filter(
      (h) => runners[h]?.role() === "master" && !runners[h]?.exited,
    );
  /** Client ARP entry for the VIP after a ping (which also proves the VIP answers). */
  const clientSees = () => {
    lab.exec("c", ["ping", "-c", "1", "-W", "1", VIP], { allowFail: true });
    return lab.neigh("c", VIP);
  };

  beforeAll(() => {
    lab = Lab.create(hosts);
  });
  afterAll(() => {
    lab?.destroy();
  }, 20_000);

  test("the highest priority becomes master, owns the VIP, and the client's ARP points at it", async () => {
    for (const h of ["r1", "r2", "r3"] as const) start(h);
    await waitFor("r3 master", () => runners.r3!.role() === "master", 5000);
    await waitFor(
      "others backup",
      () => runners.r1!.role() === "backup" && runners.r2!.role() === "backup",
      2000,
    );
    expect(masters()).toEqual(["r3"]);
    expect(lab.hasAddress("r3", VIP)).toBe(true);
    expect(lab.hasAddress("r2", VIP)).toBe(false);
    await waitFor("client ARP -> r3", () => clientSees() === lab.mac("r3"), CLIENT_ARP_DEADLINE_MS);
  }, 20_000);

  test("SIGKILL of the master: r2 takes over after the down interval and the client's ARP moves", async () => {
    const killedAt = Date.now();
    runners.r3!.kill("SIGKILL");
    const took = await waitFor(
      "r2 master",
      () => {
        const t = runners.r2!.lastTransition("master");
        return t && t.t >= killedAt ? t : undefined; // not a brief mastership from the startup race
      },
      3000,
    );
    const gap = took.t - killedAt;
    // Master_Down_Interval for priority 150 at 100 ms is 300 + 41 ms, plus up to one interval since the last
    // advert. The bound is loose (a busy machine delays processes, bench/vrrp-failover.ts measures the gap);
    // it still tells a takeover by the down timer from one by a second-scale timer or a restart.
    expect(gap).toBeLessThan(2000);
    expect(lab.hasAddress("r2", VIP)).toBe(true);
    // GARP alone must move the client's cache (no ping needed), within a short time.
    await waitFor(
      "client ARP -> r2 (by GARP)",
      () => lab.neigh("c", VIP) === lab.mac("r2"),
      CLIENT_ARP_DEADLINE_MS,
    );
    expect(runners.r1!.role()).toBe("backup");
  }, 20_000);

  test("the killed master restarts: stale VIP removed at startup, preempts back after its down interval", async () => {
    // The SIGKILLed process left its VIP behind, as a crashed keepalived would.
    expect(lab.hasAddress("r3", VIP)).toBe(true);
    start("r3");
    await waitFor(
      "r3 master again",
      () => runners.r3!.role() === "master" && runners.r2!.role() === "backup",
      5000,
    );
    expect(lab.hasAddress("r2", VIP)).toBe(false);
    await waitFor("client ARP -> r3", () => lab.neigh("c", VIP) === lab.mac("r3"), CLIENT_ARP_DEADLINE_MS);
  }, 20_000);

  test("tracking: a failed service (weight -120) lowers r3 below r2, which preempts", async () => {
    runners.r3!.send({ track: "svc:web", up: false });
    await waitFor("r2 master", () => runners.r2!.role() === "master", 3000);
    await waitFor("r3 backup", () => runners.r3!.role() === "backup", 1000);
    expect(runners.r3!.lastTransition("backup")!.reason).toContain("higher priority");
    runners.r3!.send({ track: "svc:web", up: true });
    await waitFor("r3 master", () => runners.r3!.role() === "master", 3000);
  }, 20_000);

  test("SIGTERM: priority 0 and a handover well inside the down interval", async () => {
    const termAt = Date.now();
    runners.r3!.kill("SIGTERM");
    const took = await waitFor(
      "r2 master",
      () => {
        const t = runners.r2!.lastTransition("master");
        return t && t.t >= termAt ? t : undefined;
      },
      3000,
    );
    await waitFor("r3 exited", () => runners.r3!.exited, 3000);
    expect(runners.r3!.events.some((e) => e.event === "vrrp.state" && e.to === "initialize")).toBe(true);
    // Taken over on the resignation (Skew_Time for priority 150: 41 ms), not by the down timer (341 ms). The
    // reason says which; the time bound only catches a gross delay on a busy machine.
    expect(took.reason).toBe("the master resigned (priority 0); took over after skew time");
    expect(took.t - termAt).toBeLessThan(1000);
    expect(lab.hasAddress("r3", VIP)).toBe(false); // removed on the way out
    await waitFor("client ARP -> r2", () => lab.neigh("c", VIP) === lab.mac("r2"), CLIENT_ARP_DEADLINE_MS);
  }, 20_000);

  test("operator failover: priority override plus resign moves mastership to r1", async () => {
    runners.r2!.send({ admin: "vi", priority: 1, resign: true });
    await waitFor("r1 master", () => runners.r1!.role() === "master", 3000);
    expect(runners.r2!.role()).toBe("backup");
    const clearedAt = Date.now();
    runners.r2!.send({ admin: "vi", priority: null });
    runners.r2!.send({ stats: true });
    try {
      await waitFor("r2 master again", () => runners.r2!.role() === "master", 3000);
    } catch (e) {
      const tail = (r: Runner) =>
        r.events
          .filter((x) => x.t >= clearedAt - 1000)
          .map((x) => JSON.stringify(x).slice(0, 400))
          .join("\n");
      console.error(`r2 events:\n${tail(runners.r2!)}\nr1 events:\n${tail(runners.r1!)}`);
      throw e;
    }
  }, 20_000);

  test("tshark: adverts and gratuitous ARPs are well formed with correct checksums", async () => {
    const pcap = `${lab.dir}/vrrp.pcap`;
    // Long enough for r1's second GARP round (garp_master_delay, 5 s after it takes over): tshark may
    // open the interface only after the first round on a busy machine.
    const cap = lab.spawn("c", ["tshark", "-i", "eth0", "-w", pcap, "-a", "duration:8", "-f", "vrrp or arp"]);
    await waitFor("capture file", () => existsSync(pcap), 5000);
    runners.r2!.kill("SIGTERM"); // r1 takes over and sends its GARP bursts
    await waitFor("tshark done", () => cap.exited, 15_000);
    const text = await new Response(
      Bun.spawn({
        cmd: ["tshark", "-r", pcap, "-V", "-o", "vrrp.v3_checksum_as_in_v2:FALSE"],
        stdout: "pipe",
        stderr: "ignore",
      }).stdout,
    ).text();
    const adverts = (text.match(/Virtual Router Redundancy Protocol/g) ?? []).length;
    const correct = (text.match(/Checksum: 0x[0-9a-f]{4} \[correct\]/g) ?? []).length;
    const garps = (text.match(/Is gratuitous: True/g) ?? []).length;
    expect(adverts).toBeGreaterThan(10);
    expect(text).not.toContain("Malformed");
    expect(text).not.toContain("[incorrect");
    expect(correct).toBeGreaterThanOrEqual(adverts);
    expect(garps).toBeGreaterThanOrEqual(1);
    expect(text).toContain("Time to Live: 255");
  }, 30_000);
});

// The HealthEngine on a real clock against real servers in a namespace: HTTP servers told to fail, slow
// down or close, killed, stopped (SIGSTOP) and restarted; a DNS server (dnsmasq) and an exec script.
// Asserts the transitions, their reasons and their timing: down within fall x interval + timeout,
// up within rise x interval (plus a scheduling allowance for a busy shared machine).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HealthEngine } from "../../src/health/engine.ts";
import type { CheckSpec, HealthEvent, RealServerSpec, ServiceHealthSpec } from "../../src/health/types.ts";
import {
  type HttpResponder,
  isRoot,
  Lab,
  type Proc,
  startDnsmasq,
  startHttp,
  waitFor,
} from "../helpers/responders.ts";

const INTERVAL = 200;
const TIMEOUT = 150;
const RISE = 2;
const FALL = 3;
/** event-loop and process scheduling on a shared 2-core machine */
const SLACK = 250;
const DOWN_BOUND = FALL * INTERVAL + TIMEOUT + SLACK;
const UP_BOUND = RISE * INTERVAL + SLACK;

const timing = { intervalMs: INTERVAL, timeoutMs: TIMEOUT, rise: RISE, fall: FALL, jitterMs: 0 };

function real(address: string, port: number, check: CheckSpec, weight = 10): RealServerSpec {
  return {
    family: 4,
    address,
    port,
    weight,
    method: "dr",
    upperThreshold: 0,
    lowerThreshold: 0,
    check,
    startUp: true,
  };
}

type Stamped = { at: number; e: HealthEvent };

describe.skipIf(!isRoot)("HealthEngine against real servers", () => {
  let lab: Lab;
  const web: HttpResponder[] = [];
  let engine: HealthEngine;
  const events: Stamped[] = [];
  const pools: { at: number; service: string; addrs: string[] }[] = [];
  let flag: string;
  let dns: Proc;
  let services: ServiceHealthSpec[];

  const http = {
    type: "http" as const,
    ...timing,
    path: "/",
    expect: [{ min: 200, max: 299 }],
    verify: false,
  };

  const nextEvent = (kind: HealthEvent["event"], real: string | null, after: number, timeoutMs = 5000) =>
    waitFor(
      () =>
        events.find(
          (x) =>
            x.at >= after && x.e.event === kind && (real === null || ("real" in x.e && x.e.real === real)),
        ),
      timeoutMs,
      `${kind} ${real ?? ""}`,
    );

  beforeAll(async () => {
    lab = await Lab.create("e");
    for (let i = 0; i < 2; i++) web.push(await startHttp(lab, lab.serverIp(i), 8080));
    dns = await startDnsmasq(lab, lab.serverIp(2), { "web.fhc.test": "10.0.1.53" });
    const dir = lab.tempDir();
    flag = join(dir, "up");
    const script = join(dir, "check.sh");
    writeFileSync(script, `#!/bin/sh\ntest -e "$1"\n`);
    chmodSync(script, 0o755);
    writeFileSync(flag, "");
    services = [
      {
        name: "web",
        quorum: 10,
        hysteresis: 0,
        inhibitOnFailure: false,
        sorryServer: { family: 4, address: lab.serverIp(3), port: 8080, method: "dr", weight: 1 },
        reals: [real(lab.serverIp(0), 8080, http), real(lab.serverIp(1), 8080, http)],
      },
      {
        name: "dns",
        quorum: 1,
        hysteresis: 0,
        inhibitOnFailure: true,
        reals: [
          real(lab.serverIp(2), 53, {
            type: "dns",
            ...timing,
            name: "web.fhc.test",
            recordType: "A",
            rcode: "NOERROR",
            answer: "10.0.1.53",
            transport: "udp",
          }),
        ],
      },
      {
        name: "app",
        quorum: 1,
        hysteresis: 0,
        inhibitOnFailure: false,
        reals: [
          real(lab.serverIp(3), 9000, {
            type: "exec",
            ...timing,
            argv: [script, flag],
            dynamicWeight: false,
          }),
        ],
      },
    ];
    engine = new HealthEngine();
    engine.onEvent((e) => events.push({ at: performance.now(), e }));
    engine.onPool((service, dests) =>
      pools.push({ at: performance.now(), service, addrs: dests.map((d) => d.address) }),
    );
    expect(engine.configure(services)).toEqual({ ok: true });
    // everything checked at least rise times and nothing went down
    await waitFor(
      () => ["web", "dns", "app"].every((s) => engine.snapshot(s)!.reals.every((r) => r.okStreak >= RISE)),
      5000,
      "first successful checks",
    );
    expect(events.filter((x) => x.e.event === "health.real.down")).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await engine?.stop();
    await lab?.destroy();
  }, 60_000);

  const w0 = () => `${lab.serverIp(0)}:8080`;

  test("HTTP 503: down within fall x interval + timeout, up within rise x interval", async () => {
    const t0 = performance.now();
    await web[0]!.setMode("fail");
    const down = await nextEvent("health.real.down", w0(), t0);
    expect(down.e.reason).toBe(`HTTP 503 from ${w0()}, 3/3 fails`);
    expect(down.at - t0).toBeLessThanOrEqual(DOWN_BOUND);
    expect(engine.pool("web")!.map((d) => d.address)).toEqual([lab.serverIp(1)]);
    const t1 = performance.now();
    await web[0]!.setMode("ok");
    const up = await nextEvent("health.real.up", w0(), t1);
    expect(up.e.reason).toBe(`HTTP 200 from ${w0()}, 2/2 successes`);
    expect(up.at - t1).toBeLessThanOrEqual(UP_BOUND);
    console.log(
      `http 503: down after ${(down.at - t0).toFixed(0)} ms, up after ${(up.at - t1).toFixed(0)} ms`,
    );
  }, 20_000);

  test("slow and closing servers go down with the right reason", async () => {
    const t0 = performance.now();
    await web[0]!.setMode("slow");
    const slow = await nextEvent("health.real.down", w0(), t0);
    expect(slow.e.reason).toBe(`timeout after ${TIMEOUT} ms from ${w0()}, 3/3 fails`);
    expect(slow.at - t0).toBeLessThanOrEqual(DOWN_BOUND);
    const t1 = performance.now();
    await web[0]!.setMode("ok");
    await nextEvent("health.real.up", w0(), t1);
    const t2 = performance.now();
    await web[0]!.setMode("close");
    const closed = await nextEvent("health.real.down", w0(), t2);
    expect(closed.e.reason).toMatch(/^connection (closed before a response|reset) from .*, 3\/3 fails$/);
    expect(closed.at - t2).toBeLessThanOrEqual(DOWN_BOUND);
    const t3 = performance.now();
    await web[0]!.setMode("ok");
    await nextEvent("health.real.up", w0(), t3);
  }, 20_000);

  test("SIGSTOP, SIGCONT, kill and restart", async () => {
    const t0 = performance.now();
    web[0]!.proc.signal("SIGSTOP");
    const stopped = await nextEvent("health.real.down", w0(), t0);
    expect(stopped.at - t0).toBeLessThanOrEqual(DOWN_BOUND);
    expect(stopped.e.reason).toContain("timeout after 150 ms");
    const t1 = performance.now();
    web[0]!.proc.signal("SIGCONT");
    const resumed = await nextEvent("health.real.up", w0(), t1);
    expect(resumed.at - t1).toBeLessThanOrEqual(UP_BOUND);

    const t2 = performance.now();
    await web[0]!.proc.kill();
    const killed = await nextEvent("health.real.down", w0(), t2);
    expect(killed.e.reason).toBe(`connection refused from ${w0()}, 3/3 fails`);
    expect(killed.at - t2).toBeLessThanOrEqual(DOWN_BOUND);
    web[0] = await startHttp(lab, lab.serverIp(0), 8080);
    const t3 = performance.now();
    const restarted = await nextEvent("health.real.up", w0(), t3 - 50);
    expect(restarted.at - t3).toBeLessThanOrEqual(UP_BOUND);
  }, 30_000);

  test("losing quorum brings in the sorry server; regaining it takes it out", async () => {
    const t0 = performance.now();
    await web[1]!.setMode("fail");
    await nextEvent("health.real.down", `${lab.serverIp(1)}:8080`, t0);
    expect(engine.quorumUp("web")).toBe(true); // live weight 10 still meets quorum 10
    await web[0]!.setMode("fail");
    const q = await nextEvent("health.quorum.down", null, t0);
    expect(q.e.reason).toBe("web lost quorum: live weight 0 < 10-0");
    expect(engine.quorumUp("web")).toBe(false);
    expect(engine.pool("web")!.map((d) => [d.address, d.role])).toEqual([[lab.serverIp(3), "sorry"]]);
    const t1 = performance.now();
    await web[0]!.setMode("ok");
    await web[1]!.setMode("ok");
    await nextEvent("health.quorum.up", null, t1);
    await nextEvent("health.sorry.off", null, t1);
    await waitFor(() => engine.pool("web")!.length === 2 || undefined, 5000, "both web servers back");
    expect(engine.pool("web")!.map((d) => d.address)).toEqual([lab.serverIp(0), lab.serverIp(1)]);
  }, 20_000);

  test("dns server killed: inhibited (weight 0), not removed; exec script decides", async () => {
    const dnsReal = `${lab.serverIp(2)}:53`;
    const t0 = performance.now();
    await dns.kill();
    const down = await nextEvent("health.real.down", dnsReal, t0);
    expect(down.at - t0).toBeLessThanOrEqual(DOWN_BOUND);
    expect(engine.pool("dns")!.map((d) => [d.address, d.weight, d.role])).toEqual([
      [lab.serverIp(2), 0, "inhibited"],
    ]);

    const appReal = `${lab.serverIp(3)}:9000`;
    const t1 = performance.now();
    rmSync(flag);
    const appDown = await nextEvent("health.real.down", appReal, t1);
    expect(appDown.e.reason).toBe(`exit 1 from ${appReal}, 3/3 fails`);
    expect(engine.pool("app")).toEqual([]);
    const t2 = performance.now();
    writeFileSync(flag, "");
    await nextEvent("health.real.up", appReal, t2);
    expect(engine.pool("app")).toHaveLength(1);
  }, 30_000);

  test("reload with a changed weight touches only that service and keeps every checker's state", async () => {
    const before = Object.fromEntries(["dns", "app"].map((s) => [s, engine.snapshot(s)!]));
    const poolsBefore = pools.length;
    const reloaded = services.map((s) =>
      s.name === "web" ? { ...s, reals: [{ ...s.reals[0]!, weight: 30 }, s.reals[1]!] } : s,
    );
    expect(engine.configure(reloaded)).toEqual({ ok: true });
    const changed = pools.slice(poolsBefore);
    expect(changed.map((p) => p.service)).toEqual(["web"]);
    // the dns server is still down (a reload does not reset failed servers to up)
    expect(engine.snapshot("dns")!.reals[0]!.up).toBe(false);
    const after = engine.snapshot("dns")!;
    expect(after.pool).toEqual(before["dns"]!.pool);
    expect(after.reals[0]!.failStreak).toBeGreaterThanOrEqual(before["dns"]!.reals[0]!.failStreak);
    expect(engine.pool("web")!.map((d) => d.weight)).toEqual([30, 10]);
    // operator path: drain and a live weight
    expect(engine.drain("web", w0())).toEqual({ ok: true });
    expect(engine.pool("web")!.map((d) => [d.weight, d.role])).toEqual([
      [0, "drain"],
      [10, "up"],
    ]);
    expect(engine.enable("web", w0())).toEqual({ ok: true });
    expect(engine.setWeight("web", w0(), 5)).toEqual({ ok: true });
    expect(engine.pool("web")!.map((d) => d.weight)).toEqual([5, 10]);
    expect(engine.setWeight("web", "10.9.9.9:80", 5)).toEqual({
      ok: false,
      reason: "service web has no real server 10.9.9.9:80",
    });
  });
});

// The HealthEngine adapter with fake checkers on the real clock (short intervals): membership from the
// management path, listener isolation, a checker that throws, one that ignores its abort signal.
import { describe, expect, test } from "bun:test";
import { HealthEngine } from "../../src/health/engine.ts";
import type {
  Checker,
  HealthEvent,
  RealServerSpec,
  ServiceHealthSpec,
  TcpCheckSpec,
} from "../../src/health/types.ts";

const check: TcpCheckSpec = { type: "tcp", intervalMs: 20, timeoutMs: 30, rise: 1, fall: 1, jitterMs: 0 };
const real = (address: string): RealServerSpec => ({
  family: 4,
  address,
  port: 80,
  weight: 1,
  method: "dr",
  upperThreshold: 0,
  lowerThreshold: 0,
  check,
  startUp: true,
});
const svc = (reals: RealServerSpec[]): ServiceHealthSpec => ({
  name: "web",
  reals,
  quorum: 1,
  hysteresis: 0,
  inhibitOnFailure: false,
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

describe("HealthEngine", () => {
  test("membership through the management path; only the touched service's pool is re-sent", async () => {
    const ok: Checker<TcpCheckSpec> = async () => ({ ok: true, reason: "connected", latencyMs: 0 });
    const engine = new HealthEngine({ checkers: { tcp: ok } });
    const pools: string[][] = [];
    engine.onPool((service, dests) => {
      if (service === "web") pools.push(dests.map((d) => d.address));
    });
    try {
      expect(
        engine.configure([svc([real("10.0.0.1")]), { ...svc([real("10.0.1.1")]), name: "api" }]),
      ).toEqual({
        ok: true,
      });
      expect(engine.addReal("web", real("10.0.0.2"))).toEqual({ ok: true });
      expect(engine.pool("web")!.map((d) => d.address)).toEqual(["10.0.0.1", "10.0.0.2"]);
      expect(engine.removeReal("web", "10.0.0.1:80")).toEqual({ ok: true });
      expect(pools).toEqual([["10.0.0.1"], ["10.0.0.1", "10.0.0.2"], ["10.0.0.2"]]);
      expect(engine.removeReal("web", "10.0.0.1:80")).toEqual({
        ok: false,
        reason: "service web has no real server 10.0.0.1:80",
      });
      expect(engine.addReal("nope", real("10.0.0.3"))).toEqual({
        ok: false,
        reason: 'no service named "nope"',
      });
      expect(engine.configured().map((s) => s.reals.length)).toEqual([1, 1]);
      await until(() => (engine.snapshot("web")?.reals[0]?.okStreak ?? 0) >= 3);
    } finally {
      expect(await engine.stop()).toBe(true);
    }
  });

  test("a throwing listener does not stop the others; a throwing checker is a failed check", async () => {
    const boom: Checker<TcpCheckSpec> = async () => {
      throw new Error("kaboom");
    };
    const listenerErrors: unknown[] = [];
    const engine = new HealthEngine({
      checkers: { tcp: boom },
      onListenerError: (e) => listenerErrors.push(e),
    });
    const seen: HealthEvent[] = [];
    engine.onEvent(() => {
      throw new Error("bad listener");
    });
    engine.onEvent((e) => seen.push(e));
    try {
      engine.configure([svc([real("10.0.0.1")])]);
      await until(() => seen.some((e) => e.event === "health.real.down"));
      expect(seen.find((e) => e.event === "health.real.down")!.reason).toBe(
        "checker failed: kaboom from 10.0.0.1:80, 1/1 fails",
      );
      expect(listenerErrors.length).toBeGreaterThan(0);
      expect(engine.pool("web")).toEqual([]);
    } finally {
      await engine.stop();
    }
  });

  test("a checker that ignores its abort is failed by the watchdog and cannot hold stop() forever", async () => {
    const deaf: Checker<TcpCheckSpec> = () => new Promise(() => {});
    const engine = new HealthEngine({
      checkers: { tcp: deaf },
      core: { watchdogGraceMs: 20, maxConcurrent: 4 },
    });
    const seen: HealthEvent[] = [];
    engine.onEvent((e) => seen.push(e));
    engine.configure([svc([real("10.0.0.1")])]);
    await until(() => seen.some((e) => e.event === "health.real.down"));
    expect(seen[0]!.reason).toBe("no result within 30 ms (checker overran) from 10.0.0.1:80, 1/1 fails");
    expect(engine.runningChecks).toBeLessThanOrEqual(4);
    const overruns = () => seen.length + engine.snapshot("web")!.reals[0]!.history.length;
    await until(() => overruns() >= 6);
    expect(engine.pendingSettles).toBeLessThanOrEqual(4); // abandoned checks are not kept
    const t0 = performance.now();
    expect(await engine.stop(100)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(engine.configure([])).toEqual({ ok: false, reason: "health engine stopped" });
  });
});

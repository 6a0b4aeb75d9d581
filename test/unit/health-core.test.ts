import { describe, expect, test } from "bun:test";
import {
  type HealthAction,
  HealthCore,
  type HealthCoreOptions,
  type HealthInput,
} from "../../src/health/core.ts";
import { HistoryRing } from "../../src/health/history.ts";
import type {
  CheckResult,
  HealthEvent,
  RealServerSpec,
  ServiceHealthSpec,
  TcpCheckSpec,
} from "../../src/health/types.ts";

// A simulated world: a clock, the core, and servers whose answers the test decides.
type Answer = { ok: boolean; reason: string; latencyMs: number; weight?: number } | "hang";
type Responder = (real: string, nowMs: number) => Answer;

class Sim {
  now = 0;
  readonly core: HealthCore;
  readonly log: { at: number; action: HealthAction }[] = [];
  readonly pending: { at: number; runId: number; result: CheckResult }[] = [];
  private wake: number | null = null;
  running = 0;
  maxRunning = 0;
  readonly starts: { at: number; real: string }[] = [];

  constructor(
    public responder: Responder,
    options: Partial<HealthCoreOptions> = {},
  ) {
    this.core = new HealthCore(options);
  }

  input(input: HealthInput): HealthAction[] {
    const step = this.core.step(input, this.now);
    this.wake = step.wakeAtMs;
    for (const a of step.actions) {
      this.log.push({ at: this.now, action: a });
      if (a.kind === "run") {
        this.running++;
        this.maxRunning = Math.max(this.maxRunning, this.running);
        this.starts.push({ at: this.now, real: a.real });
        const ans = this.responder(a.real, this.now);
        if (ans !== "hang") {
          const latency = Math.min(ans.latencyMs, a.spec.timeoutMs);
          const result: CheckResult =
            ans.latencyMs > a.spec.timeoutMs
              ? { ok: false, reason: `timeout after ${a.spec.timeoutMs} ms`, latencyMs: latency }
              : ans;
          this.pending.push({ at: this.now + latency, runId: a.runId, result });
        }
      } else if (a.kind === "cancel") {
        const i = this.pending.findIndex((p) => p.runId === a.runId);
        if (i >= 0) this.pending.splice(i, 1);
        this.running--;
      }
    }
    return step.actions;
  }

  /** Advance the clock to `until`, delivering results and ticks in time order. */
  runUntil(until: number): void {
    for (let guard = 0; guard < 10_000_000; guard++) {
      this.pending.sort((a, b) => a.at - b.at || a.runId - b.runId);
      const nextResult = this.pending[0]?.at ?? Number.POSITIVE_INFINITY;
      const nextWake = this.wake ?? Number.POSITIVE_INFINITY;
      const next = Math.min(nextResult, nextWake);
      if (next > until) {
        this.now = until;
        return;
      }
      expect(next).toBeGreaterThanOrEqual(this.now); // time never runs backwards
      this.now = next;
      if (nextResult <= nextWake) {
        const p = this.pending.shift()!;
        this.running--;
        this.input({ kind: "result", runId: p.runId, result: p.result });
      } else {
        this.input({ kind: "tick" });
      }
    }
    throw new Error("simulation did not settle");
  }

  events(kind?: HealthEvent["event"]): { at: number; event: HealthEvent }[] {
    const out: { at: number; event: HealthEvent }[] = [];
    for (const l of this.log) {
      if (l.action.kind === "event" && (kind === undefined || l.action.event.event === kind)) {
        out.push({ at: l.at, event: l.action.event });
      }
    }
    return out;
  }

  pools(service: string) {
    return this.log.flatMap((l) =>
      l.action.kind === "pool" && l.action.service === service ? [{ at: l.at, dests: l.action.dests }] : [],
    );
  }
}

const tcp = (over: Partial<TcpCheckSpec> = {}): TcpCheckSpec => ({
  type: "tcp",
  intervalMs: 1000,
  timeoutMs: 500,
  rise: 2,
  fall: 3,
  jitterMs: 0,
  ...over,
});

const real = (address: string, over: Partial<RealServerSpec> = {}): RealServerSpec => ({
  family: 4,
  address,
  port: 80,
  weight: 10,
  method: "dr",
  upperThreshold: 0,
  lowerThreshold: 0,
  check: tcp(),
  startUp: true,
  ...over,
});

const service = (
  name: string,
  reals: RealServerSpec[],
  over: Partial<ServiceHealthSpec> = {},
): ServiceHealthSpec => ({
  name,
  reals,
  quorum: 1,
  hysteresis: 0,
  inhibitOnFailure: false,
  ...over,
});

const okAnswer = { ok: true, reason: "connected", latencyMs: 2 };

describe("rise and fall", () => {
  test("a dead server goes down within fall x interval + timeout and comes back within rise x interval", () => {
    let deadFrom = Number.POSITIVE_INFINITY;
    let aliveFrom = Number.POSITIVE_INFINITY;
    const sim = new Sim((_r, now) =>
      now >= deadFrom && now < aliveFrom ? { ok: false, reason: "timeout", latencyMs: 10_000 } : okAnswer,
    );
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.12"), real("10.0.1.13")])] });
    sim.runUntil(5000);
    expect(sim.events("health.real.down")).toHaveLength(0);

    deadFrom = 5000;
    sim.responder = (r, now) =>
      r === "10.0.1.12:80" && now >= deadFrom && now < aliveFrom
        ? { ok: false, reason: "timeout after 500 ms", latencyMs: 10_000 }
        : okAnswer;
    sim.runUntil(20_000);
    const down = sim.events("health.real.down");
    expect(down).toHaveLength(1);
    expect(down[0]!.at - deadFrom).toBeLessThanOrEqual(3 * 1000 + 500);
    expect(down[0]!.event.reason).toBe("timeout after 500 ms from 10.0.1.12:80, 3/3 fails");
    expect(sim.core.pool("web")!.map((d) => d.address)).toEqual(["10.0.1.13"]);

    aliveFrom = 20_000;
    sim.runUntil(30_000);
    const up = sim.events("health.real.up");
    expect(up).toHaveLength(1);
    expect(up[0]!.at - aliveFrom).toBeLessThanOrEqual(2 * 1000);
    expect(up[0]!.event.reason).toBe("connected from 10.0.1.12:80, 2/2 successes");
    expect(sim.core.pool("web")!.map((d) => d.address)).toEqual(["10.0.1.12", "10.0.1.13"]);
  });

  test("a single failure among successes changes nothing (fall = 3)", () => {
    let n = 0;
    const sim = new Sim(() => (++n % 3 === 0 ? { ok: false, reason: "HTTP 503", latencyMs: 1 } : okAnswer));
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.12")])] });
    sim.runUntil(60_000);
    expect(n).toBeGreaterThan(50);
    expect(sim.events("health.real.down")).toHaveLength(0);
    expect(sim.pools("web")).toHaveLength(1); // the initial pool only
  });

  test("startUp = false (keepalived alpha) needs rise successes before joining", () => {
    const sim = new Sim(() => okAnswer);
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.12", { startUp: false })])] });
    expect(sim.core.pool("web")).toEqual([]);
    sim.runUntil(3000);
    expect(sim.events("health.real.up")).toHaveLength(1);
    expect(sim.core.pool("web")).toHaveLength(1);
  });

  test("inhibit_on_failure keeps a failed server with weight 0 instead of removing it", () => {
    const sim = new Sim((r) =>
      r === "10.0.1.12:80" ? { ok: false, reason: "HTTP 503", latencyMs: 1 } : okAnswer,
    );
    sim.input({
      kind: "configure",
      services: [service("web", [real("10.0.1.12"), real("10.0.1.13")], { inhibitOnFailure: true })],
    });
    sim.runUntil(5000);
    const pool = sim.core.pool("web")!;
    expect(pool.map((d) => [d.address, d.weight, d.role])).toEqual([
      ["10.0.1.12", 0, "inhibited"],
      ["10.0.1.13", 10, "up"],
    ]);
  });

  test("a checker that never answers is failed by the watchdog and its slot is freed", () => {
    const sim = new Sim(() => "hang", { maxConcurrent: 1, watchdogGraceMs: 200 });
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.12")])] });
    sim.runUntil(10_000);
    const down = sim.events("health.real.down");
    expect(down).toHaveLength(1);
    expect(down[0]!.event.reason).toContain("no result within 500 ms");
    expect(sim.core.runningCount).toBeLessThanOrEqual(1);
  });

  test("a late result of a cancelled check is ignored", () => {
    const sim = new Sim(() => "hang", { watchdogGraceMs: 100 });
    sim.input({
      kind: "configure",
      services: [service("web", [real("10.0.1.12", { check: tcp({ fall: 1 }) })])],
    });
    sim.runUntil(2000);
    const runs = sim.log.flatMap((l) => (l.action.kind === "run" ? [l.action.runId] : []));
    expect(runs.length).toBeGreaterThan(0);
    const before = sim.core.snapshot("web")!.reals[0]!;
    sim.input({ kind: "result", runId: runs[0]!, result: okAnswer });
    const after = sim.core.snapshot("web")!.reals[0]!;
    expect(after.okStreak).toBe(before.okStreak);
    expect(after.up).toBe(false);
  });

  test("history is a bounded ring with reasons and latency", () => {
    const sim = new Sim(() => ({ ok: true, reason: "HTTP 200", latencyMs: 7 }), { historySize: 4 });
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.12")])] });
    sim.runUntil(20_000);
    const h = sim.core.snapshot("web")!.reals[0]!.history;
    expect(h).toHaveLength(4);
    expect(h[3]).toMatchObject({ ok: true, reason: "HTTP 200", latencyMs: 7 });
    expect(h[0]!.atMs).toBeLessThan(h[3]!.atMs);
    const ring = new HistoryRing(3);
    for (let i = 0; i < 7; i++) ring.push({ atMs: i, ok: true, reason: "", latencyMs: 0 });
    expect(ring.toArray().map((e) => e.atMs)).toEqual([4, 5, 6]);
    expect(() => new HistoryRing(0)).toThrow(RangeError);
  });
});

describe("quorum, hysteresis and the sorry server", () => {
  test("quorum follows the live weight with hysteresis; the sorry server serves alone without quorum", () => {
    const dead = new Set<string>();
    const sim = new Sim((r) =>
      dead.has(r) ? { ok: false, reason: "connect refused", latencyMs: 1 } : okAnswer,
    );
    const reals = ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"].map((a) =>
      real(a, { check: tcp({ fall: 1, rise: 1 }) }),
    );
    sim.input({
      kind: "configure",
      services: [
        service("web", reals, {
          quorum: 25,
          hysteresis: 5,
          sorryServer: { family: 4, address: "10.0.9.9", port: 80, method: "nat", weight: 1 },
        }),
      ],
    });
    expect(sim.core.quorumUp("web")).toBe(true); // 40 live
    dead.add("10.0.1.1:80");
    dead.add("10.0.1.2:80");
    sim.runUntil(3000); // live 20: < 25 but not < 20, so still up (hysteresis)
    expect(sim.core.quorumUp("web")).toBe(true);
    dead.add("10.0.1.3:80");
    sim.runUntil(6000); // live 10 < 20: down
    expect(sim.core.quorumUp("web")).toBe(false);
    expect(sim.events("health.quorum.down")).toHaveLength(1);
    expect(sim.events("health.sorry.on")).toHaveLength(1);
    expect(sim.core.pool("web")!.map((d) => [d.address, d.role])).toEqual([["10.0.9.9", "sorry"]]);
    dead.delete("10.0.1.1:80");
    dead.delete("10.0.1.2:80");
    sim.runUntil(9000); // live 30 < 25 + 5 = 30? 30 >= 30: up
    expect(sim.core.quorumUp("web")).toBe(true);
    expect(sim.events("health.sorry.off")).toHaveLength(1);
    expect(sim.core.pool("web")!.map((d) => d.address)).toEqual(["10.0.1.1", "10.0.1.2", "10.0.1.4"]);
    expect(sim.events("health.quorum.up")[0]!.event.reason).toBe("web gained quorum: live weight 30 >= 25+5");
  });

  test("the sorry server comes in when nothing is up (default quorum 1)", () => {
    const sim = new Sim(() => ({ ok: false, reason: "connect refused", latencyMs: 1 }));
    sim.input({
      kind: "configure",
      services: [
        service("web", [real("10.0.1.1")], {
          sorryServer: { family: 4, address: "10.0.9.9", port: 8080, method: "nat", weight: 1 },
        }),
      ],
    });
    sim.runUntil(5000);
    expect(sim.core.pool("web")).toEqual([
      {
        family: 4,
        address: "10.0.9.9",
        port: 8080,
        weight: 1,
        method: "nat",
        upperThreshold: 0,
        lowerThreshold: 0,
        role: "sorry",
      },
    ]);
    expect(sim.events("health.sorry.on")[0]!.event.reason).toContain("sorry server 10.0.9.9:8080 in");
  });
});

describe("operator intents", () => {
  test("drain keeps the server at weight 0, disable removes it, enable restores it", () => {
    const sim = new Sim(() => okAnswer);
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.1"), real("10.0.1.2")])] });
    sim.input({ kind: "admin", service: "web", real: "10.0.1.1:80", admin: "drain" });
    expect(sim.core.pool("web")!.map((d) => [d.address, d.weight, d.role])).toEqual([
      ["10.0.1.1", 0, "drain"],
      ["10.0.1.2", 10, "up"],
    ]);
    sim.input({ kind: "admin", service: "web", real: "10.0.1.1:80", admin: "disabled" });
    expect(sim.core.pool("web")!.map((d) => d.address)).toEqual(["10.0.1.2"]);
    sim.input({ kind: "admin", service: "web", real: "10.0.1.1:80", admin: "enabled" });
    expect(sim.core.pool("web")!.map((d) => d.weight)).toEqual([10, 10]);
    expect(sim.events("health.real.admin").map((e) => e.event.reason)).toEqual([
      "operator set 10.0.1.1:80 in web to drain",
      "operator set 10.0.1.1:80 in web to disabled",
      "operator set 10.0.1.1:80 in web to enabled",
    ]);
  });

  test("a live weight override applies at once, survives reloads and can be cleared", () => {
    const sim = new Sim(() => okAnswer);
    const cfg = [service("web", [real("10.0.1.1"), real("10.0.1.2")])];
    sim.input({ kind: "configure", services: cfg });
    sim.input({ kind: "weight", service: "web", real: "10.0.1.2:80", weight: 3 });
    expect(sim.core.pool("web")!.map((d) => d.weight)).toEqual([10, 3]);
    sim.input({ kind: "configure", services: cfg });
    expect(sim.core.pool("web")!.map((d) => d.weight)).toEqual([10, 3]);
    sim.input({ kind: "weight", service: "web", real: "10.0.1.2:80", weight: null });
    expect(sim.core.pool("web")!.map((d) => d.weight)).toEqual([10, 10]);
  });

  test("bad intents are rejected with a reason and change nothing", () => {
    const sim = new Sim(() => okAnswer);
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.1")])] });
    const a = sim.input({ kind: "admin", service: "nope", real: "10.0.1.1:80", admin: "drain" });
    expect(a).toContainEqual({ kind: "rejected", reason: 'no service named "nope"' });
    const b = sim.input({ kind: "weight", service: "web", real: "10.0.1.1:80", weight: 70000 });
    expect(b[0]).toMatchObject({ kind: "rejected" });
    const c = sim.input({ kind: "configure", services: [service("web", []), service("web", [])] });
    expect(c).toEqual([{ kind: "rejected", reason: "service web is defined twice" }]);
    const d = sim.input({
      kind: "configure",
      services: [service("x", [real("10.0.1.1", { check: tcp({ fall: 0 }) })])],
    });
    expect(d[0]).toMatchObject({ kind: "rejected" });
    expect(sim.core.serviceNames()).toEqual(["web"]);
    expect(sim.core.pool("web")).toHaveLength(1);
  });

  test("an exec check with a dynamic weight sets the server's weight", () => {
    const sim = new Sim(() => ({ ok: true, reason: "exit 7", latencyMs: 1, weight: 5 }));
    sim.input({ kind: "configure", services: [service("web", [real("10.0.1.1")])] });
    sim.runUntil(2000);
    expect(sim.core.pool("web")![0]!.weight).toBe(5);
    expect(sim.events("health.real.weight")).toHaveLength(1);
  });
});

describe("reload", () => {
  test("a changed weight on one service touches only that service; checker state survives", () => {
    const dead = new Set(["10.0.2.2:80"]);
    const sim = new Sim((r) => (dead.has(r) ? { ok: false, reason: "HTTP 503", latencyMs: 1 } : okAnswer));
    const web = service("web", [real("10.0.1.1"), real("10.0.1.2")]);
    const api = service("api", [real("10.0.2.1"), real("10.0.2.2")]);
    sim.input({ kind: "configure", services: [web, api] });
    sim.runUntil(10_000);
    expect(sim.core.snapshot("api")!.reals[1]!.up).toBe(false);
    const apiBefore = sim.core.snapshot("api")!;
    const webBefore = sim.core.snapshot("web")!;
    const logBefore = sim.log.length;

    const web2 = service("web", [real("10.0.1.1", { weight: 20 }), real("10.0.1.2")]);
    sim.input({ kind: "configure", services: [web2, api] });
    const reloadActions = sim.log.slice(logBefore).map((l) => l.action);
    expect(
      reloadActions.filter((a) => a.kind === "pool").map((a) => (a.kind === "pool" ? a.service : "")),
    ).toEqual(["web"]);
    expect(reloadActions.filter((a) => a.kind === "cancel" || a.kind === "run")).toEqual([]);
    // api: identical pool, identical checker state (the failed server is still down: no keepalived reset bug)
    expect(sim.core.snapshot("api")).toEqual(apiBefore);
    const webAfter = sim.core.snapshot("web")!;
    expect(webAfter.reals.map((r) => [r.okStreak, r.nextDueMs, r.history.length])).toEqual(
      webBefore.reals.map((r) => [r.okStreak, r.nextDueMs, r.history.length]),
    );
    expect(webAfter.pool.map((d) => d.weight)).toEqual([20, 10]);
  });

  test("a changed check restarts its schedule but keeps the up/down state; removed servers and services go", () => {
    const sim = new Sim((r) =>
      r === "10.0.1.2:80" ? { ok: false, reason: "refused", latencyMs: 1 } : okAnswer,
    );
    sim.input({
      kind: "configure",
      services: [service("web", [real("10.0.1.1"), real("10.0.1.2")]), service("old", [])],
    });
    sim.runUntil(10_000);
    sim.input({
      kind: "configure",
      services: [
        service("web", [
          real("10.0.1.2", { check: tcp({ intervalMs: 2000 }) }),
          real("10.0.1.3", { startUp: false }),
        ]),
      ],
    });
    const snap = sim.core.snapshot("web")!;
    expect(snap.reals.map((r) => [r.real, r.up])).toEqual([
      ["10.0.1.2:80", false],
      ["10.0.1.3:80", false],
    ]);
    expect(sim.core.serviceNames()).toEqual(["web"]);
    expect(sim.events("health.real.removed").map((e) => e.event.reason)).toEqual([
      "10.0.1.1:80 removed from web",
    ]);
    expect(sim.log.some((l) => l.action.kind === "serviceRemoved" && l.action.service === "old")).toBe(true);
    sim.runUntil(20_000);
    expect(sim.core.pool("web")!.map((d) => d.address)).toEqual(["10.0.1.3"]);
  });
});

describe("scheduler", () => {
  test("10,000 servers at a 1 s interval are spread over the interval, not burst", () => {
    const sim = new Sim(() => okAnswer);
    const reals = Array.from({ length: 10_000 }, (_, i) => real(`10.${(i >> 8) & 255}.${i & 255}.1`));
    sim.input({ kind: "configure", services: [service("big", reals)] });
    sim.runUntil(3000);
    const buckets = new Map<number, number>();
    for (const s of sim.starts)
      buckets.set(Math.floor(s.at / 10), (buckets.get(Math.floor(s.at / 10)) ?? 0) + 1);
    const counts = [...buckets.values()];
    expect(sim.starts.length).toBeGreaterThanOrEqual(29_000);
    // 100 checks per 10 ms on average; a burst would put thousands in one bucket
    expect(Math.max(...counts)).toBeLessThan(200);
  });

  test("slow checks never exceed the concurrency bound and every server is still checked", () => {
    const sim = new Sim(() => ({ ok: true, reason: "ok", latencyMs: 400 }), { maxConcurrent: 50 });
    const reals = Array.from({ length: 200 }, (_, i) => real(`10.0.${i}.1`));
    sim.input({ kind: "configure", services: [service("big", reals)] });
    sim.runUntil(10_000);
    expect(sim.maxRunning).toBe(50);
    const perReal = new Map<string, number>();
    for (const s of sim.starts) perReal.set(s.real, (perReal.get(s.real) ?? 0) + 1);
    expect(perReal.size).toBe(200);
    expect(Math.min(...perReal.values())).toBeGreaterThanOrEqual(4);
  });

  test("jitter spreads the interval and the simulation is deterministic for a seed", () => {
    const run = (seed: number) => {
      const sim = new Sim(() => okAnswer, { seed });
      sim.input({
        kind: "configure",
        services: [service("web", [real("10.0.1.1", { check: tcp({ jitterMs: 300 }) })])],
      });
      sim.runUntil(30_000);
      return sim.starts.map((s) => s.at);
    };
    const a = run(1);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
    const gaps = a.slice(1).map((t, i) => t - a[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1300);
    expect(new Set(gaps).size).toBeGreaterThan(3);
  });

  test("one hanging check among thousands of fast ones keeps every queue bounded", () => {
    const sim = new Sim((r) => (r === "10.0.0.1:80" ? "hang" : okAnswer), {
      maxConcurrent: 64,
      watchdogGraceMs: 5000,
    });
    const reals = Array.from({ length: 5000 }, (_, i) =>
      real(`10.0.${i >> 8}.${(i & 255) + 1}`, { check: tcp({ timeoutMs: 900 }) }),
    );
    sim.input({ kind: "configure", services: [service("big", reals)] });
    sim.runUntil(20_000);
    expect(sim.starts.length).toBeGreaterThan(95_000);
    expect(sim.core.snapshot("big")!.reals[0]!.up).toBe(false);
    expect(sim.maxRunning).toBeLessThanOrEqual(64);
  });

  test("unchecked servers are always up and never scheduled", () => {
    const sim = new Sim(() => okAnswer);
    const { check: _c, ...noCheck } = real("10.0.1.1");
    sim.input({ kind: "configure", services: [service("web", [noCheck])] });
    sim.runUntil(10_000);
    expect(sim.starts).toHaveLength(0);
    expect(sim.core.pool("web")).toHaveLength(1);
  });
});

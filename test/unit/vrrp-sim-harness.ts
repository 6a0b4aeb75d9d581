// Deterministic simulation of 2-5 routers running the real VRRP core over a simulated link: a seeded PRNG,
// a simulated clock, per-packet delay, loss, partitions and heals. Packets go through the real codec and
// receive validation, so the simulation exercises the same bytes the adapter puts on the wire.

import { encodeAdvert } from "../../src/vrrp/codec.ts";
import { type CoreState, initialState, step } from "../../src/vrrp/core.ts";
import { ReceiveTable, receivePayload } from "../../src/vrrp/receive.ts";
import { masterDownMs, skewMs } from "../../src/vrrp/timing.ts";
import {
  type CoreAction,
  type CoreInput,
  VRRP_GROUP_V4,
  type VrrpInstanceSpec,
} from "../../src/vrrp/types.ts";
import { spec } from "./vrrp-fixtures.ts";

/** mulberry32: small, fast, good enough for schedules. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Router {
  readonly id: number;
  readonly spec: VrrpInstanceSpec;
  /** With syncGroup: the instances of the router's sync group (the first is `spec`). */
  readonly specs: readonly VrrpInstanceSpec[];
  core: CoreState;
  wakeAt: number;
  alive: boolean;
}

interface Delivery {
  at: number;
  seq: number;
  to: number;
  bytes: Uint8Array;
  src: string;
}

export class SimFailure extends Error {
  override readonly name = "SimFailure";
}

export interface SimOptions {
  readonly priorities: readonly number[];
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  readonly intervalCs: number;
  readonly maxDelayMs: number;
  /** How late a router may wake for a due timer. */
  readonly maxLatenessMs?: number;
  /** Two instances (VRID 51 and 52) in one sync group per router, instead of one instance. */
  readonly syncGroup?: boolean;
  /** Every instance tracks "svc:web" with this weight (0 = none). */
  readonly trackWeight?: number;
}

const MAX_EVENTS_PER_RUN = 2_000_000;

export class Sim {
  readonly routers: Router[];
  private queue: Delivery[] = []; // kept sorted by (at, seq); small, so insertion sort is fine
  private seq = 0;
  private readonly linkBusyUntil: number[] = [];
  now = 0;
  loss = 0;
  /** Component id per router; routers hear each other only inside one component. */
  component: number[];
  events = 0;
  readonly log: string[] = [];
  /**
   * One client on each router's segment (client k sits with router k, in its component): which router
   * its ARP cache names for each instance's addresses. GARPs move it; nothing else does here.
   */
  readonly clientCache: Map<string, number>[];
  private readonly table: ReceiveTable;

  constructor(
    readonly rng: () => number,
    readonly opt: SimOptions,
  ) {
    this.routers = opt.priorities.map((priority, id) => {
      const common = {
        priority,
        advert_int: opt.intervalCs / 100,
        nopreempt: !opt.preempt,
        preempt_delay: opt.preemptDelayMs / 1000,
        src: `10.0.0.${id + 1}`,
        ...(opt.trackWeight ? { track_service: [{ name: "web", weight: opt.trackWeight }] } : {}),
      };
      const s = spec(common);
      const specs = opt.syncGroup
        ? [s, spec({ ...common, name: "vj", virtual_router_id: 52, virtual_ipaddress: ["10.0.0.101/24"] })]
        : [s];
      return { id, spec: s, specs, core: this.fresh(specs), wakeAt: Number.POSITIVE_INFINITY, alive: false };
    });
    this.component = this.routers.map(() => 0);
    this.clientCache = this.routers.map(() => new Map());
    this.table = new ReceiveTable(this.routers[0]!.specs);
  }

  private fresh(specs: readonly VrrpInstanceSpec[]): CoreState {
    return initialState(specs, specs.length > 1 ? [{ name: "g", instances: specs.map((x) => x.name) }] : []);
  }

  /** A tracked service of one router changes (weight from the options). */
  track(id: number, up: boolean): void {
    const r = this.routers[id]!;
    if (r.alive) this.apply(r, { kind: "track", key: "svc:web", up });
  }

  private apply(r: Router, input: CoreInput): void {
    const res = step(r.core, input, this.now);
    r.core = res.state;
    // A real Worker wakes a little late; packets that arrive meanwhile are handled before the due timer.
    r.wakeAt = res.wakeAtMs + this.rng() * (this.opt.maxLatenessMs ?? 0);
    for (const a of res.actions) this.perform(r, a);
  }

  private perform(r: Router, a: CoreAction): void {
    if (a.kind === "event") {
      if (this.log.length < 400) {
        this.log.push(
          `${this.now.toFixed(1)} r${r.id} ${a.change.from}->${a.change.to} (${a.change.reason})`,
        );
      }
      return;
    }
    if (a.kind === "garp") {
      // Broadcast on the sender's side of any split; GARPs are not lost here (only adverts are).
      for (let k = 0; k < this.routers.length; k++) {
        if (this.component[k] === this.component[r.id]) this.clientCache[k]!.set(a.instance, r.id);
      }
      return;
    }
    if (a.kind !== "send") return;
    const src = r.spec.primaryAddress;
    const bytes = encodeAdvert(a.advert, src, VRRP_GROUP_V4, r.spec.checksum);
    for (const other of this.routers) {
      if (other === r || this.component[other.id] !== this.component[r.id]) continue;
      if (this.loss > 0 && this.rng() < this.loss) continue;
      // A link does not reorder one sender's packets (a switch keeps a flow in order): FIFO per pair.
      const link = r.id * 8 + other.id;
      const at = Math.max(this.now + this.rng() * this.opt.maxDelayMs, this.linkBusyUntil[link] ?? 0);
      this.linkBusyUntil[link] = at;
      this.enqueue({ at, seq: this.seq++, to: other.id, bytes, src });
    }
  }

  private enqueue(d: Delivery): void {
    let i = this.queue.length;
    this.queue.push(d);
    while (
      i > 0 &&
      (this.queue[i - 1]!.at > d.at || (this.queue[i - 1]!.at === d.at && this.queue[i - 1]!.seq > d.seq))
    ) {
      this.queue[i] = this.queue[i - 1]!;
      i--;
    }
    this.queue[i] = d;
  }

  start(id: number): void {
    const r = this.routers[id]!;
    r.core = this.fresh(r.specs);
    r.alive = true;
    this.apply(r, { kind: "start" });
  }

  /** SIGTERM: priority 0 goes out, then the router is gone. */
  shutdown(id: number): void {
    const r = this.routers[id]!;
    this.apply(r, { kind: "shutdown" });
    r.alive = false;
    r.wakeAt = Number.POSITIVE_INFINITY;
  }

  /** SIGKILL: silent. */
  kill(id: number): void {
    const r = this.routers[id]!;
    r.alive = false;
    r.wakeAt = Number.POSITIVE_INFINITY;
    this.queue = this.queue.filter((d) => d.to !== id);
  }

  runUntil(t: number): void {
    for (;;) {
      if (++this.events > MAX_EVENTS_PER_RUN) throw new SimFailure("event budget exceeded (livelock?)");
      let next: Router | undefined;
      for (const r of this.routers) if (r.alive && (!next || r.wakeAt < next.wakeAt)) next = r;
      const d = this.queue[0];
      const wakeAt = next ? next.wakeAt : Number.POSITIVE_INFINITY;
      if (d && d.at <= wakeAt && d.at <= t) {
        this.queue.shift();
        this.now = Math.max(this.now, d.at);
        const r = this.routers[d.to]!;
        if (!r.alive) continue;
        const rx = receivePayload(4, "eth0", d.src, VRRP_GROUP_V4, 255, d.bytes, this.table);
        if (!rx.ok) throw new SimFailure(`valid packet dropped: ${rx.reason}`);
        this.apply(r, { kind: "packet", instance: rx.instance, advert: rx.advert });
      } else if (next && wakeAt <= t) {
        this.now = Math.max(this.now, wakeAt);
        this.apply(next, { kind: "tick" });
      } else {
        this.now = t;
        return;
      }
    }
  }

  roleOf(id: number): string {
    const roles = new Set(this.routers[id]!.core.instances.map((i) => i.role));
    if (roles.size !== 1) throw new SimFailure(`r${id}: sync group members disagree (${[...roles]})`);
    return this.routers[id]!.core.instances[0]!.role;
  }

  masters(ids: readonly number[]): number[] {
    return ids.filter((id) => this.routers[id]!.alive && this.roleOf(id) === "master");
  }

  aliveIn(comp: number): number[] {
    return this.routers.filter((r) => r.alive && this.component[r.id] === comp).map((r) => r.id);
  }

  components(): number[] {
    return [...new Set(this.routers.filter((r) => r.alive).map((r) => this.component[r.id]!))];
  }

  priorityOf(id: number): number {
    return this.routers[id]!.core.instances[0]!.priority;
  }

  /** Worst-case Master_Down_Interval of the group (lowest effective priority waits longest). */
  maxMasterDown(): number {
    const w = this.opt.trackWeight ?? 0;
    return Math.max(
      ...this.routers.map((r) => {
        const lowest =
          r.spec.priority === 255 ? 255 : Math.max(1, Math.min(254, r.spec.priority + Math.min(0, w)));
        return masterDownMs(3, lowest, this.opt.intervalCs);
      }),
    );
  }

  skewOf(id: number): number {
    return skewMs(3, this.priorityOf(id), this.opt.intervalCs);
  }
}

export interface ScenarioStats {
  checks: number;
  phases: Record<string, number>;
}

/** One randomised scenario; throws SimFailure (with the trace) when a property breaks. */
export function runScenario(seed: number, stats: ScenarioStats): void {
  const rng = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const n = 2 + Math.floor(rng() * 4);
  const pool = [50, 100, 100, 150, 200, 254];
  const priorities = Array.from({ length: n }, (_, i) => (i === 0 && rng() < 0.15 ? 255 : pick(pool)));
  const intervalCs = pick([1, 5, 10, 100]);
  const interval = intervalCs * 10;
  const preempt = rng() < 0.75;
  const preemptDelayMs = preempt && rng() < 0.2 ? interval * 5 : 0;
  const maxDelayMs = Math.min(interval / 10, 5);
  const maxLatenessMs = maxDelayMs / 2;
  const syncGroup = rng() < 0.25;
  const trackWeight = rng() < 0.3 ? -60 : 0;
  const sim = new Sim(rng, {
    priorities,
    preempt,
    preemptDelayMs,
    intervalCs,
    maxDelayMs,
    syncGroup,
    trackWeight,
  });
  const tracked = new Set<number>(); // routers whose tracked service is down
  const fail = (msg: string): never => {
    throw new SimFailure(
      `seed ${seed}: ${msg} at t=${sim.now.toFixed(1)} (n=${n} prio=${priorities} int=${interval}ms ` +
        `preempt=${preempt}/${preemptDelayMs} sync=${syncGroup} track=${trackWeight} comps=${sim.component})\n${sim.log.slice(-30).join("\n")}`,
    );
  };
  const settle = preemptDelayMs + 2 * sim.maxMasterDown() + 3 * interval + 4 * maxDelayMs;
  /** Among connected routers exactly one master; with preempt it has the top priority. */
  const checkSettled = (what: string) => {
    for (const c of sim.components()) {
      const ids = sim.aliveIn(c);
      const m = sim.masters(ids);
      stats.checks++;
      if (m.length !== 1) fail(`${what}: ${m.length} masters in component ${c} [${ids}]`);
      if (preempt) {
        const top = Math.max(...ids.map((id) => sim.priorityOf(id)));
        if (sim.priorityOf(m[0]!) !== top)
          fail(`${what}: master r${m[0]} is not the highest priority ${top}`);
      }
    }
  };

  for (let id = 0; id < n; id++) sim.start(id);
  sim.runUntil(settle);
  checkSettled("startup");

  const phases = 6;
  for (let p = 0; p < phases; p++) {
    const kind = pick(["chaos", "partition", "shutdown", "kill", "chaos", "partition", "track"] as const);
    stats.phases[kind] = (stats.phases[kind] ?? 0) + 1;
    const t0 = sim.now;
    if (kind === "chaos") {
      sim.loss = 0.1 + rng() * 0.5;
      sim.runUntil(t0 + interval * (2 + rng() * 8));
      sim.loss = 0;
      sim.runUntil(sim.now + settle);
      checkSettled("after loss");
    } else if (kind === "track") {
      // A tracked service flaps on one router: its effective priority moves by the weight.
      const alive = sim.aliveIn(0);
      const id = alive[Math.floor(rng() * alive.length)];
      if (id !== undefined && trackWeight !== 0) {
        const down = !tracked.has(id);
        if (down) tracked.add(id);
        else tracked.delete(id);
        sim.track(id, !down);
      }
      sim.runUntil(t0 + settle);
      checkSettled(`after tracking change`);
    } else if (kind === "partition") {
      const k = 1 + Math.floor(rng() * Math.min(3, n));
      sim.component = sim.routers.map(() => Math.floor(rng() * k));
      sim.runUntil(t0 + settle);
      checkSettled("partitioned");
      // Heal: everyone hears everyone again.
      // Each client follows the master of its side of the split (loss before this phase may have left
      // caches anywhere; this phase judges only what the heal does).
      for (const [k, cache] of sim.clientCache.entries()) {
        cache.clear();
        const [own] = sim.masters(sim.aliveIn(sim.component[k]!));
        if (own !== undefined) for (const s of sim.routers[k]!.specs) cache.set(s.name, own);
      }
      sim.component = sim.routers.map(() => 0);
      const healedAt = sim.now;
      const maxSkew = Math.max(...sim.routers.map((r) => sim.skewOf(r.id)));
      sim.runUntil(healedAt + interval + maxSkew + 2 * (maxDelayMs + maxLatenessMs) + 0.001);
      const m = sim.masters(sim.aliveIn(0));
      stats.checks++;
      if (m.length > 1) fail(`heal: ${m.length} masters one interval + skew after the heal`);
      sim.runUntil(sim.now + settle);
      checkSettled("healed");
      // Clients that followed the loser of a split were re-pointed at the winner (by its GARPs).
      const [winner] = sim.masters(sim.aliveIn(0));
      for (const [k, cache] of sim.clientCache.entries()) {
        for (const [instance, router] of cache) {
          stats.checks++;
          if (router !== winner)
            fail(`heal: client ${k} still sends ${instance} to r${router}, not r${winner}`);
        }
      }
    } else {
      // Shutdown (priority 0) or kill (silent) of the current master, in a connected quiet network.
      const alive = sim.aliveIn(0);
      const m = sim.masters(alive);
      if (m.length !== 1 || alive.length < 2) {
        sim.runUntil(t0 + interval);
        continue;
      }
      const victim = m[0]!;
      const rest = alive.filter((id) => id !== victim);
      const best = rest.reduce((a, b) => (sim.priorityOf(b) > sim.priorityOf(a) ? b : a));
      if (kind === "shutdown") {
        sim.shutdown(victim);
        // Priority 0: the best backup takes over after its Skew_Time, not the Master_Down_Interval.
        sim.runUntil(t0 + maxDelayMs + maxLatenessMs + sim.skewOf(best) + 0.001);
        stats.checks++;
        if (sim.masters(rest).length === 0) fail(`priority 0: no backup took over within skew time`);
      } else {
        sim.kill(victim);
        sim.runUntil(
          t0 +
            interval +
            masterDownMs(3, sim.priorityOf(best), intervalCs) +
            maxDelayMs +
            2 * maxLatenessMs +
            0.001,
        );
        stats.checks++;
        if (sim.masters(rest).length === 0) fail(`kill: no backup took over within the down interval`);
      }
      sim.runUntil(sim.now + settle);
      checkSettled(`after ${kind}`);
      sim.start(victim);
      tracked.delete(victim); // a restarted router starts with its service up
      sim.runUntil(sim.now + settle);
      checkSettled(`after restart of r${victim}`);
    }
  }
}

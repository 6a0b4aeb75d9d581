// The health core, sans-I/O: the check scheduler and the real-server lifecycle (rise/fall, operator
// drain/enable/weight, quorum with hysteresis, sorry server, reload that keeps state).
//
//   core.step(input, nowMs) -> { actions, wakeAtMs }
//
// The caller (engine.ts, or a test with a simulated clock) runs the checks the core asks for, feeds their
// results back, performs the other actions and calls step({kind: "tick"}) again at wakeAtMs. The core holds
// its state in place rather than copying it per step: with 10,000 checks a second, copying the whole state
// on every result would cost more than the checks. It never reads a clock, a socket or Math.random.
import { hostPort } from "../ipvs/model.ts";
import { DueHeap } from "./heap.ts";
import { HistoryRing } from "./history.ts";
import type {
  AdminState,
  CheckResult,
  CheckSpec,
  CheckTarget,
  EffectiveDest,
  HealthEvent,
  HistoryEntry,
  RealServerSpec,
  ServiceHealthSpec,
} from "./types.ts";

export interface HealthCoreOptions {
  /** checks running at once; more due checks wait their turn (a burst cannot exceed this) */
  readonly maxConcurrent: number;
  /** results kept per real server for the console */
  readonly historySize: number;
  /** seed of the jitter generator (a simulation replays exactly) */
  readonly seed: number;
  /** a check whose result has not arrived this long after its timeout counts as failed */
  readonly watchdogGraceMs: number;
  /** bound on real servers (checked or not) across all services */
  readonly maxReals: number;
}

export const DEFAULT_CORE_OPTIONS: HealthCoreOptions = {
  maxConcurrent: 1024,
  historySize: 32,
  seed: 0x5eed,
  watchdogGraceMs: 1000,
  maxReals: 100_000,
};

export type HealthInput =
  | { readonly kind: "tick" }
  | { readonly kind: "configure"; readonly services: readonly ServiceHealthSpec[] }
  | { readonly kind: "result"; readonly runId: number; readonly result: CheckResult }
  | { readonly kind: "admin"; readonly service: string; readonly real: string; readonly admin: AdminState }
  /** operator weight; null clears the override and the configured weight applies again */
  | {
      readonly kind: "weight";
      readonly service: string;
      readonly real: string;
      readonly weight: number | null;
    };

export type HealthAction =
  | {
      readonly kind: "run";
      readonly runId: number;
      readonly service: string;
      readonly real: string;
      readonly spec: CheckSpec;
      readonly target: CheckTarget;
    }
  /** stop a check whose result is no longer wanted (its server was removed or its check changed) */
  | { readonly kind: "cancel"; readonly runId: number }
  | { readonly kind: "event"; readonly event: HealthEvent }
  /** the service's effective pool changed; `dests` is the whole new pool */
  | { readonly kind: "pool"; readonly service: string; readonly dests: readonly EffectiveDest[] }
  | { readonly kind: "serviceRemoved"; readonly service: string }
  /** an input that could not be applied (unknown service or server, bad value); state unchanged */
  | { readonly kind: "rejected"; readonly reason: string };

export interface HealthStep {
  readonly actions: HealthAction[];
  /** when to call step({kind: "tick"}) next, or null when nothing is scheduled */
  readonly wakeAtMs: number | null;
}

export class HealthConfigError extends Error {
  override readonly name = "HealthConfigError";
}

export interface RealSnapshot {
  readonly real: string;
  readonly up: boolean;
  readonly admin: AdminState;
  readonly configuredWeight: number;
  readonly effectiveWeight: number;
  readonly weightOverride: number | null;
  readonly dynamicWeight: number | null;
  readonly okStreak: number;
  readonly failStreak: number;
  readonly lastReason: string;
  readonly checking: boolean;
  readonly nextDueMs: number | null;
  readonly history: readonly HistoryEntry[];
}

export interface ServiceSnapshot {
  readonly service: string;
  readonly quorumUp: boolean;
  readonly liveWeight: number;
  readonly quorum: number;
  readonly sorryActive: boolean;
  readonly reals: readonly RealSnapshot[];
  readonly pool: readonly EffectiveDest[];
}

interface RealState {
  /** index in the due heap; changes when the check is replaced */
  readonly id: number;
  readonly key: string;
  readonly service: ServiceState;
  spec: RealServerSpec;
  checkKey: string;
  up: boolean;
  okStreak: number;
  failStreak: number;
  admin: AdminState;
  weightOverride: number | null;
  dynamicWeight: number | null;
  /** bumped when the check's schedule is replaced; heap entries of older generations are stale */
  generation: number;
  /** due time of the pending or running check (keeps the phase when a start is delayed) */
  dueMs: number | null;
  runId: number | null;
  lastReason: string;
  lastLatencyMs: number;
  readonly history: HistoryRing;
}

interface ServiceState {
  spec: ServiceHealthSpec;
  readonly reals: Map<string, RealState>;
  quorumUp: boolean;
  pool: readonly EffectiveDest[];
  poolKey: string;
}

interface RunState {
  readonly real: RealState;
  readonly generation: number;
  readonly startedMs: number;
}

const MAX_WEIGHT = 65535;

export class HealthCore {
  private readonly options: HealthCoreOptions;
  private readonly services = new Map<string, ServiceState>();
  private readonly byId = new Map<number, RealState>();
  private readonly runs = new Map<number, RunState>();
  private readonly due: DueHeap;
  /** (deadline, runId): results that never came */
  private readonly watchdog: DueHeap;
  private nextId = 1;
  private nextRunId = 1;
  private rng: number;

  constructor(options: Partial<HealthCoreOptions> = {}) {
    this.options = { ...DEFAULT_CORE_OPTIONS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.maxConcurrent) || o.maxConcurrent < 1) throw new RangeError("maxConcurrent < 1");
    if (!Number.isInteger(o.maxReals) || o.maxReals < 1) throw new RangeError("maxReals < 1");
    // Stale entries are compacted away at 2x live + slack, so 4x is a hard ceiling that is never reached.
    this.due = new DueHeap(4 * o.maxReals + 4096);
    // Finished runs leave their entry until it surfaces; compaction keeps it under 2x running + slack.
    this.watchdog = new DueHeap(4 * o.maxConcurrent + 4096);
    this.rng = o.seed >>> 0 || 1;
  }

  get runningCount(): number {
    return this.runs.size;
  }

  step(input: HealthInput, nowMs: number): HealthStep {
    const actions: HealthAction[] = [];
    switch (input.kind) {
      case "tick":
        break;
      case "configure":
        this.configure(input.services, nowMs, actions);
        break;
      case "result":
        this.onResult(input.runId, input.result, nowMs, actions);
        break;
      case "admin":
        this.onAdmin(input.service, input.real, input.admin, actions);
        break;
      case "weight":
        this.onWeight(input.service, input.real, input.weight, actions);
        break;
    }
    this.expireOverdueRuns(nowMs, actions);
    this.startDueChecks(nowMs, actions);
    return { actions, wakeAtMs: this.wakeAt() };
  }

  quorumUp(service: string): boolean | undefined {
    return this.services.get(service)?.quorumUp;
  }

  pool(service: string): readonly EffectiveDest[] | undefined {
    return this.services.get(service)?.pool;
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  snapshot(service: string): ServiceSnapshot | undefined {
    const s = this.services.get(service);
    if (s === undefined) return undefined;
    const reals: RealSnapshot[] = [];
    for (const r of s.reals.values()) {
      reals.push({
        real: r.key,
        up: r.up,
        admin: r.admin,
        configuredWeight: r.spec.weight,
        effectiveWeight: effectiveWeight(r),
        weightOverride: r.weightOverride,
        dynamicWeight: r.dynamicWeight,
        okStreak: r.okStreak,
        failStreak: r.failStreak,
        lastReason: r.lastReason,
        checking: r.runId !== null,
        nextDueMs: r.dueMs,
        history: r.history.toArray(),
      });
    }
    return {
      service,
      quorumUp: s.quorumUp,
      liveWeight: liveWeight(s),
      quorum: s.spec.quorum,
      sorryActive: s.pool.some((d) => d.role === "sorry"),
      reals,
      pool: s.pool,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration and reload

  private configure(specs: readonly ServiceHealthSpec[], nowMs: number, actions: HealthAction[]): void {
    try {
      validateServices(specs, this.options.maxReals);
    } catch (err) {
      if (!(err instanceof HealthConfigError)) throw err;
      actions.push({ kind: "rejected", reason: err.message });
      return;
    }
    const wanted = new Set(specs.map((s) => s.name));
    for (const [name, s] of this.services) {
      if (wanted.has(name)) continue;
      for (const r of s.reals.values()) this.dropReal(r, actions);
      this.services.delete(name);
      actions.push({ kind: "serviceRemoved", service: name });
    }
    for (const spec of specs) {
      let s = this.services.get(spec.name);
      const isNew = s === undefined;
      if (s === undefined) {
        s = { spec, reals: new Map(), quorumUp: false, pool: [], poolKey: "\u0000" };
        this.services.set(spec.name, s);
      }
      s.spec = spec;
      const keep = new Set<string>();
      for (const rs of spec.reals) {
        const key = hostPort(rs.address, rs.port);
        keep.add(key);
        const existing = s.reals.get(key);
        if (existing === undefined) {
          this.addReal(s, key, rs, nowMs);
          if (!isNew) {
            actions.push({
              kind: "event",
              event: {
                event: "health.real.added",
                reason: `${key} added to ${spec.name}`,
                service: spec.name,
                real: key,
              },
            });
          }
        } else {
          this.updateReal(existing, rs, nowMs, actions);
        }
      }
      for (const [key, r] of s.reals) {
        if (keep.has(key)) continue;
        this.dropReal(r, actions);
        s.reals.delete(key);
        actions.push({
          kind: "event",
          event: {
            event: "health.real.removed",
            reason: `${key} removed from ${spec.name}`,
            service: spec.name,
            real: key,
          },
        });
      }
      if (isNew) s.quorumUp = liveWeight(s) >= spec.quorum;
      this.refresh(s, actions);
    }
  }

  private addReal(s: ServiceState, key: string, spec: RealServerSpec, nowMs: number): RealState {
    const r: RealState = {
      id: this.nextId++,
      key,
      service: s,
      spec,
      checkKey: checkKey(spec.check),
      up: spec.check === undefined ? true : spec.startUp,
      okStreak: 0,
      failStreak: 0,
      admin: "enabled",
      weightOverride: null,
      dynamicWeight: null,
      generation: 0,
      dueMs: null,
      runId: null,
      lastReason: spec.check === undefined ? "not checked" : "no result yet",
      lastLatencyMs: 0,
      history: new HistoryRing(this.options.historySize),
    };
    this.byId.set(r.id, r);
    s.reals.set(key, r);
    this.scheduleFirst(r, nowMs);
    return r;
  }

  /** A reload: keep up/down, streaks, operator state and history; restart the schedule only if the check changed. */
  private updateReal(r: RealState, spec: RealServerSpec, nowMs: number, actions: HealthAction[]): void {
    const newKey = checkKey(spec.check);
    r.spec = spec;
    if (newKey === r.checkKey) return;
    r.checkKey = newKey;
    this.cancelRun(r, actions);
    r.generation++;
    r.okStreak = 0;
    r.failStreak = 0;
    r.dynamicWeight = null;
    if (spec.check === undefined) {
      r.up = true;
      r.lastReason = "not checked";
      r.dueMs = null;
      return;
    }
    this.scheduleFirst(r, nowMs);
  }

  private dropReal(r: RealState, actions: HealthAction[]): void {
    this.cancelRun(r, actions);
    r.generation++;
    r.dueMs = null;
    this.byId.delete(r.id);
  }

  private cancelRun(r: RealState, actions: HealthAction[]): void {
    if (r.runId === null) return;
    this.runs.delete(r.runId);
    actions.push({ kind: "cancel", runId: r.runId });
    r.runId = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling

  /** The first check lands at a fixed phase of the interval derived from the server's name, so a
   * thousand servers configured at once spread evenly over one interval instead of all firing now. */
  private scheduleFirst(r: RealState, nowMs: number): void {
    const check = r.spec.check;
    if (check === undefined) return;
    const phase = (fnv1a(`${r.service.spec.name}|${r.key}`) / 2 ** 32) * check.intervalMs;
    this.schedule(r, nowMs + Math.floor(phase));
  }

  private schedule(r: RealState, dueMs: number): void {
    r.dueMs = dueMs;
    this.due.push({ dueMs, id: r.id, generation: r.generation });
    const live = this.byId.size;
    if (this.due.size > 2 * live + 1024) {
      this.due.compact((e) => {
        const x = this.byId.get(e.id);
        return x !== undefined && x.generation === e.generation && x.dueMs === e.dueMs && x.runId === null;
      });
    }
  }

  private startDueChecks(nowMs: number, actions: HealthAction[]): void {
    while (this.runs.size < this.options.maxConcurrent) {
      const top = this.liveTop();
      if (top === undefined || top.dueMs > nowMs) return;
      this.due.pop();
      const check = top.real.spec.check!;
      const r = top.real;
      const runId = this.nextRunId++;
      r.runId = runId;
      this.runs.set(runId, { real: r, generation: r.generation, startedMs: nowMs });
      if (this.watchdog.size > 2 * this.runs.size + 1024) this.watchdog.compact((e) => this.runs.has(e.id));
      this.watchdog.push({
        dueMs: nowMs + check.timeoutMs + this.options.watchdogGraceMs,
        id: runId,
        generation: 0,
      });
      actions.push({
        kind: "run",
        runId,
        service: r.service.spec.name,
        real: r.key,
        spec: check,
        target: { family: r.spec.family, address: r.spec.address, port: check.port ?? r.spec.port },
      });
    }
  }

  /** The earliest live entry of the due heap; stale ones are dropped on the way. */
  private liveTop(): { dueMs: number; real: RealState } | undefined {
    for (;;) {
      const e = this.due.peek();
      if (e === undefined) return undefined;
      const r = this.byId.get(e.id);
      if (r !== undefined && r.generation === e.generation && r.dueMs === e.dueMs && r.runId === null) {
        return { dueMs: e.dueMs, real: r };
      }
      this.due.pop();
    }
  }

  private expireOverdueRuns(nowMs: number, actions: HealthAction[]): void {
    for (;;) {
      const e = this.watchdog.peek();
      if (e === undefined || e.dueMs > nowMs) {
        // Entries of runs that already finished stay until they surface; drop them from the top.
        if (e !== undefined && !this.runs.has(e.id)) {
          this.watchdog.pop();
          continue;
        }
        return;
      }
      this.watchdog.pop();
      const run = this.runs.get(e.id);
      if (run === undefined) continue;
      const timeout = run.real.spec.check?.timeoutMs ?? 0;
      actions.push({ kind: "cancel", runId: e.id });
      this.onResult(
        e.id,
        {
          ok: false,
          reason: `no result within ${timeout} ms (checker overran)`,
          latencyMs: nowMs - run.startedMs,
        },
        nowMs,
        actions,
      );
    }
  }

  private wakeAt(): number | null {
    let wake: number | null = null;
    if (this.runs.size < this.options.maxConcurrent) {
      const top = this.liveTop();
      if (top !== undefined) wake = top.dueMs;
    }
    for (;;) {
      const w = this.watchdog.peek();
      if (w === undefined) break;
      if (!this.runs.has(w.id)) {
        this.watchdog.pop();
        continue;
      }
      wake = wake === null ? w.dueMs : Math.min(wake, w.dueMs);
      break;
    }
    return wake;
  }

  // ---------------------------------------------------------------------------------------------
  // Results and the rise/fall lifecycle

  private onResult(runId: number, result: CheckResult, nowMs: number, actions: HealthAction[]): void {
    const run = this.runs.get(runId);
    if (run === undefined) return; // late result of a cancelled or overrun check: ignored
    this.runs.delete(runId);
    const r = run.real;
    r.runId = null;
    const check = r.spec.check;
    if (run.generation !== r.generation || check === undefined || !this.byId.has(r.id)) return;

    r.history.push({ atMs: nowMs, ok: result.ok, reason: result.reason, latencyMs: result.latencyMs });
    r.lastReason = result.reason;
    r.lastLatencyMs = result.latencyMs;
    const s = r.service;
    const name = s.spec.name;
    let changed = false;
    if (result.ok) {
      r.okStreak = Math.min(r.okStreak + 1, 1_000_000);
      r.failStreak = 0;
      if (result.weight !== undefined && result.weight !== r.dynamicWeight) {
        r.dynamicWeight = clampWeight(result.weight);
        changed = true;
        actions.push({
          kind: "event",
          event: {
            event: "health.real.weight",
            reason: `${r.key} in ${name}: check set weight ${r.dynamicWeight}`,
            service: name,
            real: r.key,
            weight: r.dynamicWeight,
          },
        });
      }
      if (!r.up && r.okStreak >= check.rise) {
        r.up = true;
        changed = true;
        actions.push({
          kind: "event",
          event: {
            event: "health.real.up",
            reason: `${result.reason} from ${r.key}, ${r.okStreak}/${check.rise} successes`,
            service: name,
            real: r.key,
            check: check.type,
            count: r.okStreak,
            threshold: check.rise,
            latencyMs: result.latencyMs,
          },
        });
      }
    } else {
      r.failStreak = Math.min(r.failStreak + 1, 1_000_000);
      r.okStreak = 0;
      if (r.up && r.failStreak >= check.fall) {
        r.up = false;
        changed = true;
        actions.push({
          kind: "event",
          event: {
            event: "health.real.down",
            reason: `${result.reason} from ${r.key}, ${r.failStreak}/${check.fall} fails`,
            service: name,
            real: r.key,
            check: check.type,
            count: r.failStreak,
            threshold: check.fall,
            latencyMs: result.latencyMs,
          },
        });
      }
    }
    // Fixed rate from the due time keeps each server's phase; a slow check is followed at once, never
    // in a burst (it is one check), and jitter keeps neighbours from drifting into step.
    const base = Math.max((r.dueMs ?? nowMs) + check.intervalMs, nowMs);
    this.schedule(r, base + Math.floor(this.random() * (check.jitterMs + 1)));
    if (changed) this.refresh(s, actions);
  }

  /** mulberry32: a tiny seeded generator for jitter; the core never calls Math.random. */
  private random(): number {
    this.rng = (this.rng + 0x6d2b79f5) >>> 0;
    let t = this.rng;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  // ---------------------------------------------------------------------------------------------
  // Operator intents

  private findReal(service: string, real: string, actions: HealthAction[]): RealState | undefined {
    const s = this.services.get(service);
    if (s === undefined) {
      actions.push({ kind: "rejected", reason: `no service named ${JSON.stringify(service)}` });
      return undefined;
    }
    const r = s.reals.get(real);
    if (r === undefined) {
      actions.push({ kind: "rejected", reason: `service ${service} has no real server ${real}` });
      return undefined;
    }
    return r;
  }

  private onAdmin(service: string, real: string, admin: AdminState, actions: HealthAction[]): void {
    const r = this.findReal(service, real, actions);
    if (r === undefined || r.admin === admin) return;
    r.admin = admin;
    actions.push({
      kind: "event",
      event: {
        event: "health.real.admin",
        reason: `operator set ${real} in ${service} to ${admin}`,
        service,
        real,
        admin,
        weightOverride: r.weightOverride,
      },
    });
    this.refresh(r.service, actions);
  }

  private onWeight(service: string, real: string, weight: number | null, actions: HealthAction[]): void {
    if (weight !== null && (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT)) {
      actions.push({ kind: "rejected", reason: `weight ${weight} is not an integer in 0..${MAX_WEIGHT}` });
      return;
    }
    const r = this.findReal(service, real, actions);
    if (r === undefined || r.weightOverride === weight) return;
    r.weightOverride = weight;
    actions.push({
      kind: "event",
      event: {
        event: "health.real.admin",
        reason:
          weight === null
            ? `operator cleared the weight of ${real} in ${service} (configured ${r.spec.weight})`
            : `operator set the weight of ${real} in ${service} to ${weight}`,
        service,
        real,
        admin: r.admin,
        weightOverride: weight,
      },
    });
    this.refresh(r.service, actions);
  }

  // ---------------------------------------------------------------------------------------------
  // Quorum and the effective pool

  /** Recompute quorum and the pool; emit events and a pool action only for what changed. */
  private refresh(s: ServiceState, actions: HealthAction[]): void {
    const spec = s.spec;
    const live = liveWeight(s);
    const wasUp = s.quorumUp;
    if (s.quorumUp && live < spec.quorum - spec.hysteresis) s.quorumUp = false;
    else if (!s.quorumUp && live >= spec.quorum + spec.hysteresis) s.quorumUp = true;
    if (wasUp !== s.quorumUp) {
      actions.push({
        kind: "event",
        event: {
          event: s.quorumUp ? "health.quorum.up" : "health.quorum.down",
          reason: s.quorumUp
            ? `${spec.name} gained quorum: live weight ${live} >= ${spec.quorum}+${spec.hysteresis}`
            : `${spec.name} lost quorum: live weight ${live} < ${spec.quorum}-${spec.hysteresis}`,
          service: spec.name,
          liveWeight: live,
          quorum: spec.quorum,
          hysteresis: spec.hysteresis,
        },
      });
    }
    const wasSorry = s.pool.some((d) => d.role === "sorry");
    const pool = buildPool(s);
    const key = poolKey(pool);
    if (key === s.poolKey) return;
    const isSorry = pool.some((d) => d.role === "sorry");
    if (isSorry !== wasSorry && spec.sorryServer !== undefined) {
      const sorry = hostPort(spec.sorryServer.address, spec.sorryServer.port);
      actions.push({
        kind: "event",
        event: {
          event: isSorry ? "health.sorry.on" : "health.sorry.off",
          reason: isSorry
            ? `${spec.name} has no quorum (live weight ${live}): sorry server ${sorry} in`
            : `${spec.name} has quorum again (live weight ${live}): sorry server ${sorry} out`,
          service: spec.name,
          sorry,
        },
      });
    }
    s.pool = pool;
    s.poolKey = key;
    actions.push({ kind: "pool", service: spec.name, dests: pool });
  }
}

function effectiveWeight(r: RealState): number {
  return r.weightOverride ?? r.dynamicWeight ?? r.spec.weight;
}

function liveWeight(s: ServiceState): number {
  let sum = 0;
  for (const r of s.reals.values()) if (r.up && r.admin === "enabled") sum += effectiveWeight(r);
  return sum;
}

function buildPool(s: ServiceState): EffectiveDest[] {
  const spec = s.spec;
  const sorry = !s.quorumUp && spec.sorryServer !== undefined;
  const pool: EffectiveDest[] = [];
  for (const rs of spec.reals) {
    const r = s.reals.get(hostPort(rs.address, rs.port));
    if (r === undefined || r.admin === "disabled") continue;
    let role: EffectiveDest["role"] | null;
    if (r.admin === "drain") role = "drain";
    else if (sorry)
      role = spec.inhibitOnFailure ? "inhibited" : null; // the sorry server serves alone
    else if (r.up) role = "up";
    else role = spec.inhibitOnFailure ? "inhibited" : null;
    if (role === null) continue;
    pool.push({
      family: rs.family,
      address: rs.address,
      port: rs.port,
      weight: role === "up" ? effectiveWeight(r) : 0,
      method: rs.method,
      upperThreshold: rs.upperThreshold,
      lowerThreshold: rs.lowerThreshold,
      role,
    });
  }
  if (sorry && spec.sorryServer !== undefined) {
    const ss = spec.sorryServer;
    pool.push({
      family: ss.family,
      address: ss.address,
      port: ss.port,
      weight: ss.weight,
      method: ss.method,
      upperThreshold: 0,
      lowerThreshold: 0,
      role: "sorry",
    });
  }
  return pool;
}

function poolKey(pool: readonly EffectiveDest[]): string {
  return pool
    .map(
      (d) =>
        `${d.address}|${d.port}|${d.weight}|${d.method}|${d.upperThreshold}|${d.lowerThreshold}|${d.role}`,
    )
    .join(",");
}

/** Identity of a check for reload: equal keys keep the running schedule. */
function checkKey(check: CheckSpec | undefined): string {
  if (check === undefined) return "";
  return JSON.stringify(check, Object.keys(check).sort());
}

function clampWeight(w: number): number {
  if (!Number.isFinite(w)) return 0;
  return Math.max(0, Math.min(MAX_WEIGHT, Math.trunc(w)));
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function validateServices(specs: readonly ServiceHealthSpec[], maxReals: number): void {
  const names = new Set<string>();
  let total = 0;
  for (const s of specs) {
    if (s.name === "") throw new HealthConfigError("a service has an empty name");
    if (names.has(s.name)) throw new HealthConfigError(`service ${s.name} is defined twice`);
    names.add(s.name);
    if (!Number.isFinite(s.quorum) || s.quorum < 0)
      throw new HealthConfigError(`${s.name}: quorum must be >= 0`);
    if (!Number.isFinite(s.hysteresis) || s.hysteresis < 0 || s.hysteresis > s.quorum) {
      throw new HealthConfigError(`${s.name}: hysteresis must be in 0..quorum`);
    }
    const reals = new Set<string>();
    for (const r of s.reals) {
      const key = hostPort(r.address, r.port);
      if (reals.has(key)) throw new HealthConfigError(`${s.name}: real server ${key} is listed twice`);
      reals.add(key);
      if (!Number.isInteger(r.weight) || r.weight < 0 || r.weight > MAX_WEIGHT) {
        throw new HealthConfigError(`${s.name}: ${key} weight ${r.weight} is not in 0..${MAX_WEIGHT}`);
      }
      if (r.check !== undefined) validateTiming(`${s.name}: ${key}`, r.check);
    }
    total += s.reals.length;
    if (total > maxReals) throw new HealthConfigError(`more than ${maxReals} real servers`);
  }
}

function validateTiming(where: string, c: CheckSpec): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!positiveInt(c.intervalMs))
    throw new HealthConfigError(`${where}: interval must be a positive number of ms`);
  if (!positiveInt(c.timeoutMs))
    throw new HealthConfigError(`${where}: timeout must be a positive number of ms`);
  if (!positiveInt(c.rise) || c.rise > 1000) throw new HealthConfigError(`${where}: rise must be in 1..1000`);
  if (!positiveInt(c.fall) || c.fall > 1000) throw new HealthConfigError(`${where}: fall must be in 1..1000`);
  if (!Number.isInteger(c.jitterMs) || c.jitterMs < 0)
    throw new HealthConfigError(`${where}: jitter must be >= 0 ms`);
  if (c.port !== undefined && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)) {
    throw new HealthConfigError(`${where}: check port ${c.port} is not in 1..65535`);
  }
}

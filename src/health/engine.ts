// HealthEngine: the adapter around the health core. It owns the timer and the running checks (each with
// a hard timeout through an AbortSignal), feeds results back, and hands the core's outputs to listeners:
// pools (what IPVS should hold per service), events (one structured line per transition) and quorum
// changes (what a VRRP instance tracks as `svc:<name>`).

import { hostPort } from "../ipvs/model.ts";
import { type CheckerTable, DEFAULT_CHECKERS, runCheck } from "./checkers/index.ts";
import {
  type HealthAction,
  HealthCore,
  type HealthCoreOptions,
  type HealthInput,
  type ServiceSnapshot,
} from "./core.ts";
import type { AdminState, EffectiveDest, HealthEvent, RealServerSpec, ServiceHealthSpec } from "./types.ts";

export type PoolListener = (service: string, dests: readonly EffectiveDest[]) => void;
export type HealthEventListener = (event: HealthEvent) => void;
export type QuorumListener = (service: string, up: boolean, reason: string) => void;

export interface HealthEngineOptions {
  readonly core?: Partial<HealthCoreOptions>;
  readonly checkers?: Partial<CheckerTable>;
  /** monotonic milliseconds; performance.now() unless a test says otherwise */
  readonly now?: () => number;
  /** called when a listener throws (the engine carries on) */
  readonly onListenerError?: (err: unknown) => void;
}

export type IntentResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const MAX_LISTENERS = 64;

export class HealthEngine {
  private readonly core: HealthCore;
  private readonly checkers: CheckerTable;
  /** The clock check results are stamped with (monotonic ms); snapshots convert to wall clock with it. */
  readonly now: () => number;
  private readonly onListenerError: (err: unknown) => void;
  private readonly running = new Map<
    number,
    { controller: AbortController; timer: ReturnType<typeof setTimeout>; done?: Promise<void> }
  >();
  private readonly settled = new Set<Promise<void>>();
  private readonly poolListeners = new Set<PoolListener>();
  private readonly eventListeners = new Set<HealthEventListener>();
  private readonly quorumListeners = new Set<QuorumListener>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedAtMs: number | null = null;
  private stopped = false;
  /** inputs that arrive while the core is stepping (a listener calling back in) wait here */
  private readonly queue: HealthInput[] = [];
  private specs: readonly ServiceHealthSpec[] = [];
  private stepping = false;

  constructor(options: HealthEngineOptions = {}) {
    this.core = new HealthCore(options.core);
    this.checkers = { ...DEFAULT_CHECKERS, ...options.checkers };
    this.now = options.now ?? (() => performance.now());
    this.onListenerError = options.onListenerError ?? (() => {});
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Stops the timer, aborts every running check and waits until they have all settled, at most
   * `waitMs`; false when some checker did not settle in time (it is abandoned).
   */
  async stop(waitMs = 2000): Promise<boolean> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const r of this.running.values()) {
      clearTimeout(r.timer);
      r.controller.abort(new DOMException("engine stopping", "AbortError"));
    }
    // A checker that ignores its abort signal must not hold shutdown hostage.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    const all = Promise.all([...this.settled]).then(() => true as const);
    const settled = await Promise.race([all, gaveUp]);
    clearTimeout(timer);
    return settled;
  }

  // ------------------------------------------------------------------------------------------
  // Inputs: configuration and operator intents

  /**
   * Initial configuration (checking starts with it) and every reload. Unchanged servers keep their
   * state and schedule; a rejected configuration changes nothing.
   */
  configure(services: readonly ServiceHealthSpec[]): IntentResult {
    const r = this.intent({ kind: "configure", services });
    if (r.ok) this.specs = services;
    return r;
  }

  /** Membership from the management path: add (or replace) one real server of a configured service. */
  addReal(service: string, real: RealServerSpec): IntentResult {
    const s = this.specs.find((x) => x.name === service);
    if (s === undefined) return { ok: false, reason: `no service named ${JSON.stringify(service)}` };
    const key = hostPort(real.address, real.port);
    const reals = s.reals.filter((r) => hostPort(r.address, r.port) !== key);
    return this.configure(this.specs.map((x) => (x === s ? { ...s, reals: [...reals, real] } : x)));
  }

  /** Membership from the management path: remove one real server ("addr:port") from a service. */
  removeReal(service: string, real: string): IntentResult {
    const s = this.specs.find((x) => x.name === service);
    if (s === undefined) return { ok: false, reason: `no service named ${JSON.stringify(service)}` };
    const reals = s.reals.filter((r) => hostPort(r.address, r.port) !== real);
    if (reals.length === s.reals.length)
      return { ok: false, reason: `service ${service} has no real server ${real}` };
    return this.configure(this.specs.map((x) => (x === s ? { ...s, reals } : x)));
  }

  /** The specs last accepted by configure (after addReal/removeReal too). */
  configured(): readonly ServiceHealthSpec[] {
    return this.specs;
  }

  drain(service: string, real: string): IntentResult {
    return this.setAdmin(service, real, "drain");
  }

  enable(service: string, real: string): IntentResult {
    return this.setAdmin(service, real, "enabled");
  }

  disable(service: string, real: string): IntentResult {
    return this.setAdmin(service, real, "disabled");
  }

  setAdmin(service: string, real: string, admin: AdminState): IntentResult {
    return this.intent({ kind: "admin", service, real, admin });
  }

  /** Operator weight override (kept across reloads); null returns to the configured weight. */
  setWeight(service: string, real: string, weight: number | null): IntentResult {
    return this.intent({ kind: "weight", service, real, weight });
  }

  // ------------------------------------------------------------------------------------------
  // Outputs

  onPool(listener: PoolListener): () => void {
    return addListener(this.poolListeners, listener);
  }

  onEvent(listener: HealthEventListener): () => void {
    return addListener(this.eventListeners, listener);
  }

  onQuorum(listener: QuorumListener): () => void {
    return addListener(this.quorumListeners, listener);
  }

  pool(service: string): readonly EffectiveDest[] | undefined {
    return this.core.pool(service);
  }

  quorumUp(service: string): boolean | undefined {
    return this.core.quorumUp(service);
  }

  services(): string[] {
    return this.core.serviceNames();
  }

  snapshot(service: string): ServiceSnapshot | undefined {
    return this.core.snapshot(service);
  }

  get runningChecks(): number {
    return this.running.size;
  }

  // ------------------------------------------------------------------------------------------

  private intent(input: HealthInput): IntentResult {
    const rejected = this.feed(input);
    return rejected === null ? { ok: true } : { ok: false, reason: rejected };
  }

  /** Steps the core (or queues the input when called from inside a step); returns a rejection reason. */
  private feed(input: HealthInput): string | null {
    if (this.stopped) return input.kind === "tick" ? null : "health engine stopped";
    if (this.stepping) {
      this.queue.push(input);
      return null;
    }
    this.stepping = true;
    let rejected: string | null = null;
    try {
      let next: HealthInput | undefined = input;
      while (next !== undefined) {
        const step = this.core.step(next, this.now());
        for (const a of step.actions) {
          const r = this.perform(a);
          if (r !== null && next === input) rejected = r;
        }
        this.arm(step.wakeAtMs);
        next = this.queue.shift();
      }
    } finally {
      this.stepping = false;
    }
    return rejected;
  }

  private perform(a: HealthAction): string | null {
    switch (a.kind) {
      case "run":
        if (!this.stopped) this.launch(a);
        return null;
      case "cancel": {
        const r = this.running.get(a.runId);
        if (r !== undefined) {
          clearTimeout(r.timer);
          r.controller.abort(new DOMException("check cancelled", "AbortError"));
          this.running.delete(a.runId);
          // not awaited any more: a checker deaf to its abort must not pile up here
          if (r.done !== undefined) this.settled.delete(r.done);
        }
        return null;
      }
      case "pool":
        for (const l of this.poolListeners) this.call(() => l(a.service, a.dests));
        return null;
      case "event":
        for (const l of this.eventListeners) this.call(() => l(a.event));
        if (a.event.event === "health.quorum.up" || a.event.event === "health.quorum.down") {
          const { service, reason } = a.event;
          const up = a.event.event === "health.quorum.up";
          for (const l of this.quorumListeners) this.call(() => l(service, up, reason));
        }
        return null;
      case "serviceRemoved":
        for (const l of this.poolListeners) this.call(() => l(a.service, []));
        return null;
      case "rejected":
        return a.reason;
    }
  }

  private launch(a: Extract<HealthAction, { kind: "run" }>): void {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException(`timeout after ${a.spec.timeoutMs} ms`, "TimeoutError")),
      a.spec.timeoutMs,
    );
    const entry: { controller: AbortController; timer: ReturnType<typeof setTimeout>; done?: Promise<void> } =
      {
        controller,
        timer,
      };
    this.running.set(a.runId, entry);
    const done: Promise<void> = runCheck(this.checkers, a.spec, a.target, controller.signal).then(
      (result) => {
        clearTimeout(timer);
        this.settled.delete(done);
        const wasRunning = this.running.delete(a.runId);
        if (wasRunning && !this.stopped) this.feed({ kind: "result", runId: a.runId, result });
      },
    );
    entry.done = done;
    this.settled.add(done);
  }

  /** Checks the engine still waits for at stop() (bounded by the core's concurrency limit). */
  get pendingSettles(): number {
    return this.settled.size;
  }

  private arm(wakeAtMs: number | null): void {
    if (wakeAtMs === null || this.stopped) return;
    if (this.armedAtMs !== null && this.armedAtMs <= wakeAtMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedAtMs = wakeAtMs;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.armedAtMs = null;
        this.feed({ kind: "tick" });
      },
      Math.max(0, Math.ceil(wakeAtMs - this.now())),
    );
  }

  private call(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.onListenerError(err);
    }
  }
}

function addListener<T>(set: Set<T>, listener: T): () => void {
  if (set.size >= MAX_LISTENERS) throw new Error("HealthEngine: too many listeners");
  set.add(listener);
  return () => set.delete(listener);
}

// The IPVS adapter: keeps the kernel's table equal to the desired one. A full reconcile (dump, plan, apply)
// runs at start and on reload; a change to one service (health, an operator's drain or weight) is planned
// against the last known kernel state and reaches the kernel as one batch, without a dump.
// Failed changes are reported with the service and real server they concern, and retried.
import type { KernelDest, KernelService, ServiceSpec } from "./model.ts";
import { serviceKeyString } from "./model.ts";
import { type IpvsOp, type Ownership, ownedDestKey, planReconcile, planServiceUpdate } from "./reconcile.ts";

/** The part of the netlink IPVS client the controller needs (src/netlink/ipvs.ts implements it). */
export interface IpvsPort {
  listServices(): Promise<KernelService[]>;
  apply(ops: readonly IpvsOp[]): Promise<{ readonly op: IpvsOp; readonly error: Error | null }[]>;
}

/** Where ownership survives a restart of the process (a file on /run: gone at reboot, like the table). */
export interface OwnershipStore {
  load(): Promise<Ownership>;
  save(owned: Ownership): Promise<void>;
}

/** Ownership kept in memory only: for a process that owns nothing across restarts (tests, benchmarks). */
export class MemoryOwnershipStore implements OwnershipStore {
  saved: Ownership = { services: new Set(), dests: new Set() };
  async load(): Promise<Ownership> {
    return this.saved;
  }
  async save(owned: Ownership): Promise<void> {
    this.saved = owned;
  }
}

export interface IpvsControllerEvents {
  applied(summary: { ops: number; failed: number; ms: number; scope: string }): void;
  failed(op: IpvsOp, error: Error, attempt: number): void;
  foreign(entries: readonly string[]): void;
}

export interface ReconcileOutcome {
  readonly ops: readonly IpvsOp[];
  readonly failures: readonly { readonly op: IpvsOp; readonly error: Error }[];
}

/** Retries of a failed change before it is left to the next reconcile (and stays reported). */
export const MAX_ATTEMPTS = 3;

/** How long per-service changes may go unpersisted (coalesced into one write). */
export const PERSIST_DELAY_MS = 500;

interface MutableOwnership {
  readonly services: Set<string>;
  readonly dests: Set<string>;
}

export class IpvsController {
  private owned: MutableOwnership | null = null;
  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  /** The kernel as we last saw or made it; services keyed by serviceKeyString. */
  private known = new Map<string, KernelService>();
  private desired = new Map<string, ServiceSpec>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly port: IpvsPort,
    private readonly store: OwnershipStore,
    private readonly events: IpvsControllerEvents,
  ) {}

  /** Adopts what the kernel has and brings it to `desired`. Call once at start and on every reload. */
  reconcileAll(desired: readonly ServiceSpec[]): Promise<ReconcileOutcome> {
    return this.serial(async () => {
      const owned = this.owned ?? (await this.store.load());
      this.desired = new Map(desired.map((s) => [serviceKeyString(s.key), s]));
      const kernel = await this.port.listServices();
      this.known = new Map(kernel.map((s) => [serviceKeyString(s.key), s]));
      const plan = planReconcile(desired, kernel, owned);
      if (plan.foreign.length > 0) this.events.foreign(plan.foreign);
      this.owned = { services: new Set(plan.owned.services), dests: new Set(plan.owned.dests) };
      const outcome = await this.execute(plan.ops, "all");
      await this.persistNow();
      return outcome;
    });
  }

  /** One service changed (health, drain, weight): plan it alone against the known kernel state. */
  updateService(spec: ServiceSpec): Promise<ReconcileOutcome> {
    return this.serial(async () => {
      const key = serviceKeyString(spec.key);
      this.desired.set(key, spec);
      const owned = this.owned ?? (await this.loadOwnership());
      const plan = planServiceUpdate(spec, this.known.get(key), owned);
      for (const k of plan.delta.addServices) owned.services.add(k);
      for (const k of plan.delta.addDests) owned.dests.add(k);
      for (const k of plan.delta.removeDests) owned.dests.delete(k);
      const outcome = await this.execute(plan.ops, key);
      this.persistSoon();
      return outcome;
    });
  }

  /** The kernel table as last known (after our own changes), for drains and the console. */
  knownTable(): KernelService[] {
    return [...this.known.values()];
  }

  /**
   * Reads the kernel's table (counters and rates for the console and for drains). Not queued behind or
   * ahead of changes, and it leaves the known table alone: a dump of a large table takes a while, and a
   * single change must not wait for it (the netlink client interleaves the two per service).
   */
  readKernel(): Promise<KernelService[]> {
    return this.port.listServices();
  }

  /** Writes pending ownership now (call before the process exits). */
  async flush(): Promise<void> {
    await this.serial(() => this.persistNow());
  }

  private async loadOwnership(): Promise<MutableOwnership> {
    const o = await this.store.load();
    this.owned = { services: new Set(o.services), dests: new Set(o.dests) };
    return this.owned;
  }

  /**
   * Ownership on disk may lag a per-service change by PERSIST_DELAY_MS. That is safe: an entry added but
   * not yet recorded is adopted again if still wanted and otherwise left alone; one removed but still
   * recorded is forgotten once the kernel no longer has it. Nothing is ever deleted by mistake.
   */
  private persistSoon(): void {
    if (this.persistTimer !== null) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      void this.serial(() => this.persistNow());
    }, PERSIST_DELAY_MS);
  }

  private async persistNow(): Promise<void> {
    if (this.persistTimer !== null) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    if (this.owned) await this.store.save(this.owned);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async execute(ops: readonly IpvsOp[], scope: string): Promise<ReconcileOutcome> {
    const started = performance.now();
    let pending = [...ops];
    let failures: { op: IpvsOp; error: Error }[] = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && pending.length > 0; attempt++) {
      const results = await this.port.apply(pending);
      failures = [];
      for (const r of results) {
        if (r.error) {
          failures.push({ op: r.op, error: r.error });
          this.events.failed(r.op, r.error, attempt);
        } else {
          this.remember(r.op);
        }
      }
      // A real server cannot be added to a service that failed to appear: retry those together.
      pending = failures.map((f) => f.op);
    }
    if (this.owned) forgetFailedAdds(this.owned, failures);
    this.events.applied({
      ops: ops.length,
      failed: failures.length,
      ms: performance.now() - started,
      scope,
    });
    return { ops, failures };
  }

  /** Updates the known table as if the kernel had applied op (it acked it). */
  private remember(op: IpvsOp): void {
    const key = serviceKeyString("key" in op ? op.key : op.service);
    const svc = this.known.get(key);
    switch (op.op) {
      case "addService":
        this.known.set(key, { key: op.key, options: op.options, dests: [] });
        return;
      case "editService":
        if (svc) this.known.set(key, { ...svc, options: op.options });
        return;
      case "delService":
        this.known.delete(key);
        return;
    }
    if (!svc) return;
    const same = (d: KernelDest) => d.address === op.dest.address && d.port === op.dest.port;
    const others = svc.dests.filter((d) => !same(d));
    if (op.op === "delDest") {
      this.known.set(key, { ...svc, dests: others });
      return;
    }
    const previous = svc.dests.find(same);
    const dest: KernelDest = {
      ...op.dest,
      activeConns: previous?.activeConns ?? 0,
      inactiveConns: previous?.inactiveConns ?? 0,
      persistentConns: previous?.persistentConns ?? 0,
    };
    this.known.set(key, { ...svc, dests: [...others, dest] });
  }
}

/** Something we failed to create is not ours: never delete it later by mistake. */
function forgetFailedAdds(owned: MutableOwnership, failures: readonly { op: IpvsOp }[]): void {
  for (const { op } of failures) {
    if (op.op === "addService") owned.services.delete(serviceKeyString(op.key));
    if (op.op === "addDest") owned.dests.delete(ownedDestKey(op.service, op.dest));
  }
}

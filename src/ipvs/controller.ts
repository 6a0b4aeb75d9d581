// The IPVS adapter: keeps the kernel's table equal to the desired one. A full reconcile (dump, plan, apply)
// runs at start and on reload; a change to one service (health, an operator's drain or weight) is planned
// against the last known kernel state and reaches the kernel as one batch, without a dump.
// Failed changes are reported with the service and real server they concern, and retried.
import type { KernelDest, KernelService, ServiceSpec } from "./model.ts";
import { serviceKeyString } from "./model.ts";
import {
  EMPTY_OWNERSHIP,
  type IpvsOp,
  type Ownership,
  ownedDestKey,
  planReconcile,
  planServiceUpdate,
} from "./reconcile.ts";

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

export class IpvsController {
  private owned: Ownership = EMPTY_OWNERSHIP;
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
      if (this.owned === EMPTY_OWNERSHIP) this.owned = await this.store.load();
      this.desired = new Map(desired.map((s) => [serviceKeyString(s.key), s]));
      const kernel = await this.port.listServices();
      this.known = new Map(kernel.map((s) => [serviceKeyString(s.key), s]));
      const plan = planReconcile(desired, kernel, this.owned);
      if (plan.foreign.length > 0) this.events.foreign(plan.foreign);
      return this.execute(plan.ops, plan.owned, "all");
    });
  }

  /** One service changed (health, drain, weight): plan it alone against the known kernel state. */
  updateService(spec: ServiceSpec): Promise<ReconcileOutcome> {
    return this.serial(async () => {
      const key = serviceKeyString(spec.key);
      this.desired.set(key, spec);
      const plan = planServiceUpdate(spec, this.known.get(key), this.owned);
      return this.execute(plan.ops, plan.owned, key);
    });
  }

  /** The kernel table as last known (after our own changes), for drains and the console. */
  knownTable(): KernelService[] {
    return [...this.known.values()];
  }

  /** Re-reads the kernel (counters and rates for the console and for drains). */
  refresh(): Promise<KernelService[]> {
    return this.serial(async () => {
      const kernel = await this.port.listServices();
      this.known = new Map(kernel.map((s) => [serviceKeyString(s.key), s]));
      return kernel;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async execute(ops: readonly IpvsOp[], owned: Ownership, scope: string): Promise<ReconcileOutcome> {
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
    this.owned = withoutFailedAdds(owned, failures);
    await this.store.save(this.owned);
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
function withoutFailedAdds(owned: Ownership, failures: readonly { op: IpvsOp }[]): Ownership {
  if (failures.length === 0) return owned;
  const services = new Set(owned.services);
  const dests = new Set(owned.dests);
  for (const { op } of failures) {
    if (op.op === "addService") services.delete(serviceKeyString(op.key));
    if (op.op === "addDest") dests.delete(ownedDestKey(op.service, op.dest));
  }
  return { services, dests };
}

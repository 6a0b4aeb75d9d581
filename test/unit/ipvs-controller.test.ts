import { describe, expect, test } from "bun:test";
import { IpvsController, type IpvsPort, MemoryOwnershipStore } from "../../src/ipvs/controller.ts";
import {
  DEFAULT_DEST_OPTIONS,
  DEFAULT_SERVICE_OPTIONS,
  type DestSpec,
  type KernelService,
  type ServiceKey,
  type ServiceOptions,
  type ServiceSpec,
  serviceKeyString,
} from "../../src/ipvs/model.ts";
import type { IpvsOp } from "../../src/ipvs/reconcile.ts";

// An in-memory IPVS table with the kernel's refusal rules that matter here (no dest without its service,
// no duplicates, unknown scheduler modules).
class FakeKernel implements IpvsPort {
  table = new Map<string, KernelService>();
  sent: IpvsOp[][] = [];
  missingSchedulers = new Set<string>();

  async listServices(): Promise<KernelService[]> {
    return [...this.table.values()];
  }

  async apply(ops: readonly IpvsOp[]) {
    this.sent.push([...ops]);
    return ops.map((op) => ({ op, error: this.one(op) }));
  }

  private one(op: IpvsOp): Error | null {
    const key = serviceKeyString("key" in op ? op.key : op.service);
    const svc = this.table.get(key);
    switch (op.op) {
      case "addService":
        if (svc) return new Error("EEXIST");
        if (this.missingSchedulers.has(op.options.scheduler)) return new Error("ENOENT");
        this.table.set(key, { key: op.key, options: op.options, dests: [] });
        return null;
      case "editService":
        if (!svc) return new Error("ESRCH");
        this.table.set(key, { ...svc, options: op.options });
        return null;
      case "delService":
        if (!svc) return new Error("ESRCH");
        this.table.delete(key);
        return null;
    }
    if (!svc) return new Error("ESRCH");
    const others = svc.dests.filter((d) => d.address !== op.dest.address || d.port !== op.dest.port);
    if (op.op === "delDest") {
      if (others.length === svc.dests.length) return new Error("ENOENT");
      this.table.set(key, { ...svc, dests: others });
      return null;
    }
    if (op.op === "addDest" && others.length !== svc.dests.length) return new Error("EEXIST");
    const d = { ...op.dest, activeConns: 0, inactiveConns: 0, persistentConns: 0 };
    this.table.set(key, { ...svc, dests: [...others, d] });
    return null;
  }
}

const failures: string[] = [];
const events = {
  applied: () => {},
  failed: (_op: IpvsOp, error: Error) => failures.push(error.message),
  foreign: () => {},
};
const rr: ServiceOptions = { ...DEFAULT_SERVICE_OPTIONS, scheduler: "rr" };
const key = (i: number): ServiceKey => ({
  kind: "addr",
  family: 4,
  protocol: "tcp",
  address: `192.0.2.${i}`,
  port: 80,
});
const dest = (a: string, weight = 1): DestSpec => ({
  ...DEFAULT_DEST_OPTIONS,
  family: 4,
  address: a,
  port: 80,
  weight,
});
const svc = (i: number, dests: DestSpec[], options = rr): ServiceSpec => ({ key: key(i), options, dests });

describe("IpvsController", () => {
  test("brings an empty kernel to the desired table, then a restart changes nothing", async () => {
    const kernel = new FakeKernel();
    const store = new MemoryOwnershipStore();
    const desired = [svc(1, [dest("10.0.0.1"), dest("10.0.0.2")]), svc(2, [dest("10.0.0.3")])];
    const first = await new IpvsController(kernel, store, events).reconcileAll(desired);
    expect(first.failures).toEqual([]);
    expect(kernel.table.size).toBe(2);
    kernel.sent = [];
    const restarted = new IpvsController(kernel, store, events);
    const again = await restarted.reconcileAll(desired);
    expect(again.ops).toEqual([]);
    expect(kernel.sent.flat()).toEqual([]);
  });

  test("a single-service update sends only that service's change and keeps other ownership", async () => {
    const kernel = new FakeKernel();
    const store = new MemoryOwnershipStore();
    const c = new IpvsController(kernel, store, events);
    await c.reconcileAll([svc(1, [dest("10.0.0.1")]), svc(2, [dest("10.0.0.3")])]);
    kernel.sent = [];
    await c.updateService(svc(1, [dest("10.0.0.1", 0)]));
    expect(kernel.sent.flat().map((o) => o.op)).toEqual(["editDest"]);
    await c.flush();
    expect(store.saved.services.size).toBe(2);
    // ...and a later full reconcile without service 2 still knows service 2 is ours to delete.
    await c.reconcileAll([svc(1, [dest("10.0.0.1", 0)])]);
    expect([...kernel.table.keys()]).toEqual(["tcp:192.0.2.1:80"]);
  });

  test("a failure is retried, reported with what it concerns, and not counted as owned", async () => {
    const kernel = new FakeKernel();
    kernel.missingSchedulers.add("mh");
    const store = new MemoryOwnershipStore();
    failures.length = 0;
    const c = new IpvsController(kernel, store, events);
    const out = await c.reconcileAll([svc(1, [dest("10.0.0.1")], { ...rr, scheduler: "mh" }), svc(2, [])]);
    expect(out.failures.map((f) => f.op.op).sort()).toEqual(["addDest", "addService"]);
    expect(failures.length).toBe(6); // two ops x three attempts
    expect(store.saved.services.has("tcp:192.0.2.1:80")).toBe(false);
    expect(store.saved.services.has("tcp:192.0.2.2:80")).toBe(true);
    // Once the module is there, the next reconcile completes the service.
    kernel.missingSchedulers.clear();
    const later = await c.reconcileAll([svc(1, [dest("10.0.0.1")], { ...rr, scheduler: "mh" }), svc(2, [])]);
    expect(later.failures).toEqual([]);
    expect(kernel.table.get("tcp:192.0.2.1:80")?.dests).toHaveLength(1);
  });
});

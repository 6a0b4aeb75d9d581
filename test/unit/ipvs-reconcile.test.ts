import { describe, expect, test } from "bun:test";
import { cancelDrain, startDrain, stepDrains } from "../../src/ipvs/drain.ts";
import {
  DEFAULT_DEST_OPTIONS,
  DEFAULT_SERVICE_OPTIONS,
  type DestSpec,
  type KernelDest,
  type KernelService,
  type ServiceKey,
  type ServiceOptions,
  type ServiceSpec,
} from "../../src/ipvs/model.ts";
import { EMPTY_OWNERSHIP, type IpvsOp, ownedDestKey, planReconcile } from "../../src/ipvs/reconcile.ts";

const web: ServiceKey = { kind: "addr", family: 4, protocol: "tcp", address: "192.0.2.10", port: 80 };
const db: ServiceKey = { kind: "addr", family: 4, protocol: "tcp", address: "192.0.2.11", port: 3306 };
const mark: ServiceKey = { kind: "fwmark", family: 6, fwmark: 7 };
const rr: ServiceOptions = { ...DEFAULT_SERVICE_OPTIONS, scheduler: "rr" };
const dest = (address: string, weight = 1, port = 80): DestSpec => ({
  ...DEFAULT_DEST_OPTIONS,
  method: "dr",
  family: 4,
  address,
  port,
  weight,
});
const live = (d: DestSpec, active = 0, inactive = 0): KernelDest => ({
  ...d,
  activeConns: active,
  inactiveConns: inactive,
  persistentConns: 0,
});
const asKernel = (s: ServiceSpec, conns: Record<string, [number, number]> = {}): KernelService => ({
  key: s.key,
  options: s.options,
  dests: s.dests.map((d) => live(d, ...(conns[d.address] ?? [0, 0]))),
});
const opNames = (ops: readonly IpvsOp[]) =>
  ops.map((o) => `${o.op} ${"dest" in o ? o.dest.address : ""}`.trim());

describe("planReconcile", () => {
  const webSpec: ServiceSpec = { key: web, options: rr, dests: [dest("10.0.1.1"), dest("10.0.1.2")] };

  test("from empty: each service then its real servers", () => {
    const plan = planReconcile([webSpec], [], EMPTY_OWNERSHIP);
    expect(opNames(plan.ops)).toEqual(["addService", "addDest 10.0.1.1", "addDest 10.0.1.2"]);
    expect([...plan.owned.services]).toEqual(["tcp:192.0.2.10:80"]);
    expect(plan.owned.dests.size).toBe(2);
  });

  test("a restart adopts a kernel that already matches: no change at all", () => {
    const plan = planReconcile([webSpec], [asKernel(webSpec)], EMPTY_OWNERSHIP);
    expect(plan.ops).toEqual([]);
    expect(plan.owned.services.has("tcp:192.0.2.10:80")).toBe(true);
    expect(plan.owned.dests.has(ownedDestKey(web, dest("10.0.1.1")))).toBe(true);
  });

  test("a weight change is one editDest and touches nothing else", () => {
    const changed: ServiceSpec = { ...webSpec, dests: [dest("10.0.1.1", 5), dest("10.0.1.2")] };
    const dbSpec: ServiceSpec = { key: db, options: rr, dests: [dest("10.0.2.1", 1, 3306)] };
    const plan = planReconcile([changed, dbSpec], [asKernel(webSpec), asKernel(dbSpec)], EMPTY_OWNERSHIP);
    expect(plan.ops).toEqual([{ op: "editDest", service: web, dest: dest("10.0.1.1", 5) }]);
  });

  test("scheduler change edits the service in place instead of re-creating it", () => {
    const wlc: ServiceSpec = { ...webSpec, options: { ...rr, scheduler: "wlc" } };
    const plan = planReconcile([wlc], [asKernel(webSpec)], EMPTY_OWNERSHIP);
    expect(opNames(plan.ops)).toEqual(["editService"]);
  });

  test("never deletes what it does not own; deletes what it owns", () => {
    const foreignSvc: KernelService = { key: db, options: rr, dests: [live(dest("10.9.9.9", 1, 3306))] };
    const withForeignDest: KernelService = {
      ...asKernel(webSpec),
      dests: [...asKernel(webSpec).dests, live(dest("10.0.1.99"))],
    };
    const first = planReconcile([webSpec], [withForeignDest, foreignSvc], EMPTY_OWNERSHIP);
    expect(first.ops).toEqual([]);
    expect([...first.foreign].sort()).toEqual(["tcp:192.0.2.10:80|10.0.1.99:80", "tcp:192.0.2.11:3306"]);

    // Now the config drops 10.0.1.2 (owned) and the whole web service later.
    const fewer: ServiceSpec = { ...webSpec, dests: [dest("10.0.1.1")] };
    const second = planReconcile([fewer], [withForeignDest, foreignSvc], first.owned);
    expect(opNames(second.ops)).toEqual(["delDest 10.0.1.2"]);
    const third = planReconcile([], [asKernel(fewer), foreignSvc], second.owned);
    expect(third.ops).toEqual([{ op: "delService", key: web }]);
    expect(third.owned.services.size).toBe(0);
    expect(third.owned.dests.size).toBe(0);
  });

  test("a swap adds the new real server before removing the old one", () => {
    const first = planReconcile([webSpec], [], EMPTY_OWNERSHIP);
    const swapped: ServiceSpec = { ...webSpec, dests: [dest("10.0.1.1"), dest("10.0.1.3")] };
    const plan = planReconcile([swapped], [asKernel(webSpec)], first.owned);
    expect(opNames(plan.ops)).toEqual(["addDest 10.0.1.3", "delDest 10.0.1.2"]);
  });

  test("an owned entry deleted by hand is re-created if still wanted, forgotten if not", () => {
    const first = planReconcile([webSpec], [], EMPTY_OWNERSHIP);
    const again = planReconcile([webSpec], [], first.owned);
    expect(opNames(again.ops)).toEqual(["addService", "addDest 10.0.1.1", "addDest 10.0.1.2"]);
    const gone = planReconcile([], [], first.owned);
    expect(gone.ops).toEqual([]);
    expect(gone.owned.services.size + gone.owned.dests.size).toBe(0);
  });

  test("fwmark and IPv6 keys are distinct services", () => {
    const v6: ServiceSpec = { key: mark, options: rr, dests: [] };
    const plan = planReconcile([webSpec, v6], [], EMPTY_OWNERSHIP);
    expect(plan.owned.services.has("fwm:6:7")).toBe(true);
    expect(plan.ops.filter((o) => o.op === "addService")).toHaveLength(2);
  });

  test("tunnel options only matter for tunnel real servers", () => {
    const d = dest("10.0.1.1");
    const tweaked = { ...d, tunnelType: "gre" as const };
    const plan = planReconcile(
      [{ ...webSpec, dests: [tweaked] }],
      [{ ...asKernel(webSpec) }],
      EMPTY_OWNERSHIP,
    );
    expect(plan.ops.filter((o) => o.op === "editDest")).toEqual([]);
    const tun = { ...d, method: "tun" as const, tunnelType: "gue" as const, tunnelPort: 6080 };
    const plan2 = planReconcile(
      [{ ...webSpec, dests: [tun] }],
      [asKernel({ ...webSpec, dests: [{ ...tun, tunnelPort: 5555 }] })],
      EMPTY_OWNERSHIP,
    );
    expect(opNames(plan2.ops)).toEqual(["editDest 10.0.1.1"]);
  });

  test("a duplicate in the desired table is a programming error, caught", () => {
    expect(() => planReconcile([webSpec, webSpec], [], EMPTY_OWNERSHIP)).toThrow(/desired twice/);
  });
});

describe("drain", () => {
  const d1 = dest("10.0.1.1");
  const spec: ServiceSpec = { key: web, options: rr, dests: [d1] };

  test("finishes when connections reach zero", () => {
    const drains = startDrain(new Map(), web, d1, 1000, 60_000);
    const busy = stepDrains(drains, [asKernel(spec, { "10.0.1.1": [3, 1] })], 2000);
    expect(busy.finished).toEqual([]);
    expect(busy.wakeAtMs).toBe(61_000);
    const idle = stepDrains(busy.drains, [asKernel(spec)], 3000);
    expect(idle.finished.map((f) => f.reason)).toEqual(["idle"]);
    expect(idle.drains.size).toBe(0);
  });

  test("finishes at the deadline with the connections still counted", () => {
    const drains = startDrain(new Map(), web, d1, 0, 500);
    const late = stepDrains(drains, [asKernel(spec, { "10.0.1.1": [2, 0] })], 500);
    expect(late.finished).toHaveLength(1);
    expect(late.finished[0]).toMatchObject({ reason: "timeout", activeConns: 2 });
  });

  test("restarting a drain keeps the first deadline; cancel forgets it", () => {
    const a = startDrain(new Map(), web, d1, 0, 500);
    const b = startDrain(a, web, d1, 400, 500);
    expect([...b.values()][0]?.deadlineMs).toBe(500);
    expect(cancelDrain(b, web, d1).size).toBe(0);
  });
});

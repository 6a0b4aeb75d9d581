// Runs INSIDE a lab guest (bundled and copied in by bench/ipvs-program.ts). Same kernel, same run:
//   1. ipvsadm -R of SERVICES x REALS rules into an empty table (the incumbent);
//   2. fulcrum's IpvsController programming the same table from empty (dump, plan, batched apply);
//   3. with that table in place, single real-server weight changes through the controller, each timed
//      until the kernel acked it (p50/p99).
// Prints one JSON line with the figures.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { IpvsController, MemoryOwnershipStore } from "../../src/ipvs/controller.ts";
import { DEFAULT_DEST_OPTIONS, DEFAULT_SERVICE_OPTIONS, type ServiceSpec } from "../../src/ipvs/model.ts";
import { EMPTY_OWNERSHIP, planReconcile } from "../../src/ipvs/reconcile.ts";
import { Ipvs } from "../../src/netlink/ipvs.ts";

const SERVICES = Number(process.argv[2] ?? 10_000);
const REALS = Number(process.argv[3] ?? 4);
const CHANGES = Number(process.argv[4] ?? 500);
if (!(SERVICES > 0 && SERVICES <= 60_000 && REALS > 0 && REALS <= 16 && CHANGES > 0 && CHANGES <= 10_000)) {
  throw new Error("bounds: services 1..60000, reals 1..16, changes 1..10000");
}

const vip = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const real = (j: number) => `10.0.1.${11 + j}`;

function table(weightOf: (i: number, j: number) => number = () => 1): ServiceSpec[] {
  return Array.from({ length: SERVICES }, (_, i) => ({
    key: { kind: "addr", family: 4, protocol: "tcp", address: vip(i), port: 80 },
    options: { ...DEFAULT_SERVICE_OPTIONS, scheduler: "rr" },
    dests: Array.from({ length: REALS }, (_, j) => ({
      ...DEFAULT_DEST_OPTIONS,
      method: "dr" as const,
      family: 4 as const,
      address: real(j),
      port: 80,
      weight: weightOf(i, j),
    })),
  }));
}

function sh(cmd: string): void {
  const r = spawnSync("sh", ["-c", cmd], { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

/** CPU ticks used so far by the kernel's IPVS estimator threads. */
function estimatorTicks(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("ipvs-e:")) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

/** Waits (at most 120 s) until the estimator threads use under 5% of a CPU over a second; returns the wait. */
async function estimatorsSettled(): Promise<number> {
  const t = performance.now();
  const hz = 100; // USER_HZ
  let before = estimatorTicks();
  while (performance.now() - t < 120_000) {
    await Bun.sleep(1000);
    const now = estimatorTicks();
    if (now - before < 0.05 * hz) break;
    before = now;
  }
  return performance.now() - t;
}

function count(): number {
  const r = spawnSync("sh", ["-c", "ipvsadm -Ln | grep -c -- '->' || true"], { encoding: "utf8" });
  return Number(r.stdout.trim()) - 1; // the header line "-> RemoteAddress:Port" matches too
}

const quiet = {
  applied: () => {},
  failed: (_: unknown, e: Error) => console.error(e.message),
  foreign: () => {},
};

// Each measured run starts from an empty table that just held the full one (a flush leaves the kernel
// work to do in the background, which slows the next run), and the two tools alternate:
// warm-up (not measured), ipvsadm, fulcrum, ipvsadm, fulcrum.
const rules: string[] = [];
for (let i = 0; i < SERVICES; i++) {
  rules.push(`-A -t ${vip(i)}:80 -s rr`);
  for (let j = 0; j < REALS; j++) rules.push(`-a -t ${vip(i)}:80 -r ${real(j)}:80 -g -w 1`);
}
writeFileSync("/tmp/ipvs-rules.txt", `${rules.join("\n")}\n`);
sh("ipvsadm -C");
sh("ipvsadm -R < /tmp/ipvs-rules.txt");

const ipvs = Ipvs.open();
const desired = table();
// The pure planning share of fulcrum's time, for the record.
let t0 = performance.now();
const planOps = planReconcile(desired, [], EMPTY_OWNERSHIP).ops.length;
const planMs = performance.now() - t0;

const ipvsadmRuns: number[] = [];
const fulcrumRuns: number[] = [];
let ipvsadmEntries = 0;
let fulcrumEntries = 0;
let fulcrumFailures = 0;
let netlink: Record<string, number> = {};
let controller = new IpvsController(ipvs, new MemoryOwnershipStore(), quiet);
for (let round = 0; round < 2; round++) {
  sh("ipvsadm -C");
  t0 = performance.now();
  sh("ipvsadm -R < /tmp/ipvs-rules.txt");
  ipvsadmRuns.push(performance.now() - t0);
  ipvsadmEntries = count();

  sh("ipvsadm -C");
  controller = new IpvsController(ipvs, new MemoryOwnershipStore(), quiet);
  const before = { ...ipvs.timing };
  t0 = performance.now();
  const out = await controller.reconcileAll(desired);
  fulcrumRuns.push(performance.now() - t0);
  netlink = Object.fromEntries(
    Object.entries(ipvs.timing).map(([k, v]) => [k, Math.round(v - before[k as keyof typeof before])]),
  );
  fulcrumEntries = count();
  fulcrumFailures += out.failures.length;
}
const ratios = fulcrumRuns.map((f, i) => f / ipvsadmRuns[i]!);

// 3. single real-server changes in the full table, in steady state: the garbage of programming 50,000
// entries is collected first, so its GC debt is not charged to the first changes; and the kernel's rate
// estimator threads (ipvs-e:*), which re-measure and re-chain 50,000 new estimators for a while after a
// table is loaded (partly under the IPVS mutex every change needs), are let finish that first.
Bun.gc(true);
const settleMs = await estimatorsSettled();

interface Window {
  readonly changes: number[];
  /** The floor under the same conditions: a request that changes nothing (IPVS_CMD_GET_INFO), timed
   * between the changes. Its tail is the guest's and the host's (TCG, a shared machine), not the change's. */
  readonly floor: number[];
}

/** CHANGES single weight changes, each timed to the kernel's ack; `first` numbers them on from the last. */
async function changeWindow(first: number): Promise<Window> {
  const window: Window = { changes: [], floor: [] };
  for (let k = first; k < first + CHANGES; k++) {
    const f = performance.now();
    await ipvs.info();
    window.floor.push(performance.now() - f);
    const i = (k * 7919) % SERVICES;
    const base = desired[i]!;
    const spec: ServiceSpec = {
      ...base,
      dests: base.dests.map((d, j) => (j === k % REALS ? { ...d, weight: 2 + (k % 50) } : d)),
    };
    const t = performance.now();
    const r = await controller.updateService(spec);
    window.changes.push(performance.now() - t);
    if (r.ops.length !== 1 || r.failures.length !== 0) throw new Error(`change ${k}: ${JSON.stringify(r)}`);
  }
  window.changes.sort((a, b) => a - b);
  window.floor.sort((a, b) => a - b);
  return window;
}

// Two windows of CHANGES changes each. The first runs while the JIT compiles the change path into its
// optimizing tiers on background threads, which under TCG takes tens of seconds of CPU and competes with
// the changes on a 1-vCPU guest (measured: with the DFG tier off, the first window's p99 fell from
// 10-14 ms to 7.3 ms); it is reported as the cold figure. The second is the steady state a long-running
// daemon is in.
const cold = await changeWindow(0);
const steady = await changeWindow(CHANGES);
// The incumbent for the same change: one `ipvsadm -e` per change (a process per change, as scripts do).
const ipvsadmLatencies: number[] = [];
for (let k = 0; k < Math.min(CHANGES, 100); k++) {
  const i = (k * 7919) % SERVICES;
  const t = performance.now();
  sh(`ipvsadm -e -t ${vip(i)}:80 -r ${real(k % REALS)}:80 -g -w ${60 + (k % 50)}`);
  ipvsadmLatencies.push(performance.now() - t);
}
ipvsadmLatencies.sort((a, b) => a - b);
const pctOf = (xs: number[], p: number) =>
  Number(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(3));
const summary = (xs: number[]) => ({ p50: pctOf(xs, 0.5), p99: pctOf(xs, 0.99), max: pctOf(xs, 1) });
await ipvs.close();
sh("ipvsadm -C");

console.log(
  JSON.stringify({
    settleMs: Math.round(settleMs),
    services: SERVICES,
    reals: REALS,
    ipvsadmRunsMs: ipvsadmRuns.map(Math.round),
    fulcrumRunsMs: fulcrumRuns.map(Math.round),
    ipvsadmEntries,
    fulcrumEntries,
    fulcrumFailures,
    planMs: Math.round(planMs),
    planOps,
    netlink,
    ratios: ratios.map((r) => Number(r.toFixed(3))),
    changes: CHANGES,
    cold: { change: summary(cold.changes), floor: summary(cold.floor) },
    steady: { change: summary(steady.changes), floor: summary(steady.floor) },
    ipvsadmChange: summary(ipvsadmLatencies),
  }),
);
process.exit(0);

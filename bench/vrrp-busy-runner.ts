// The VRRP service (same startVrrp, Worker and core as fulcrum run) in a process whose main thread is kept
// busy: a 10,000-service IPVS reconcile plan and a CPU burner, back to back. Used by bench/vrrp-failover.ts.
//   bun bench/vrrp-busy-runner.ts SPEC.json [--no-vrrp]
// stdout: JSON lines like the standalone runner ({"event":"vrrp.state"...}, {"event":"busy.stats"...}).
import { readFileSync } from "node:fs";
import { DEFAULT_DEST_OPTIONS, DEFAULT_SERVICE_OPTIONS, type ServiceSpec } from "../src/ipvs/model.ts";
import { EMPTY_OWNERSHIP, planReconcile } from "../src/ipvs/reconcile.ts";
import { startVrrp } from "../src/vrrp/service.ts";
import { buildSpec, type VrrpInstanceInput } from "../src/vrrp/spec.ts";

const out = (o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ...o, t: Date.now() })}\n`);

function services(n: number): ServiceSpec[] {
  const list: ServiceSpec[] = [];
  for (let i = 0; i < n; i++) {
    list.push({
      key: {
        kind: "addr",
        family: 4,
        protocol: "tcp",
        address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        port: 80,
      },
      options: DEFAULT_SERVICE_OPTIONS,
      dests: [1, 2, 3, 4].map((d) => ({
        ...DEFAULT_DEST_OPTIONS,
        family: 4 as const,
        address: `192.168.${d}.${i & 255}`,
        port: 80,
      })),
    });
  }
  return list;
}

async function main(): Promise<void> {
  const path = process.argv[2]!;
  const withVrrp = !process.argv.includes("--no-vrrp");
  let stop = false;
  process.once("SIGTERM", () => {
    stop = true;
  });
  let handle: Awaited<ReturnType<typeof startVrrp>> | null = null;
  if (withVrrp) {
    const file = JSON.parse(readFileSync(path, "utf8")) as { instances: VrrpInstanceInput[] };
    const specs = file.instances.map((r) => buildSpec(r));
    handle = await startVrrp(specs, [], {
      onEvent: (e) => out({ event: "vrrp.state", ...e.change, at: e.atMs }),
    });
  }
  out({ event: "busy.ready", pid: process.pid });
  const desired = services(10_000);
  let reconciles = 0;
  let burnMs = 0;
  while (!stop) {
    // 10,000-service reconcile from an empty kernel (every service and dest is an operation)...
    const plan = planReconcile(desired, [], EMPTY_OWNERSHIP);
    if (plan.ops.length === 0) throw new Error("reconcile produced no work");
    reconciles++;
    // ...then a CPU burner: 200 ms of pure spinning on the main thread.
    const t0 = performance.now();
    let x = 0;
    while (performance.now() - t0 < 200) x = (x * 1103515245 + 12345) % 2147483648;
    burnMs += performance.now() - t0;
    if (x < 0) out({ x });
    await Bun.sleep(0); // one short turn so SIGTERM can be noticed; the thread is otherwise always busy
  }
  out({ event: "busy.stats", reconciles, burnMs: Math.round(burnMs), vrrp: handle?.lastStats() ?? null });
  if (handle) await handle.stop();
  out({ event: "busy.stopped", vrrp: handle?.lastStats() ?? null });
  process.exit(0);
}

void main();

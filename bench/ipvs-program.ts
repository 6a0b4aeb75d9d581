// IPVS programming speed, fulcrum against ipvsadm, in one lab guest and one run (QEMU/TCG):
//   bun bench/ipvs-program.ts [SERVICES=10000] [REALS=4] [CHANGES=500] [VCPUS=1]
// Boots a lab guest, copies in the bundled agent (bench/guest/ipvs-agent.ts), runs it, prints the figures.
// Goals (issue 4): fulcrum <= 0.8 x ipvsadm -R from empty; single-change latency p99 < 10 ms.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushFile } from "../test/helpers/guest-files.ts";
import { bootGuest } from "../test/helpers/qemu.ts";

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const [services = "10000", reals = "4", changes = "500", vcpus = "1"] = process.argv.slice(2);
const ROOT = join(import.meta.dir, "..");
const BUN = join(ROOT, "node_modules/.bin/bun");

const out = mkdtempSync(join(tmpdir(), "fulcrum-bench-"));
try {
  for (const [entry, name] of [
    ["bench/guest/ipvs-agent.ts", "ipvs-agent"],
    ["ffi/fd-watch-worker.ts", "fd-watch-worker"],
  ] as const) {
    const r = Bun.spawnSync([
      BUN,
      "build",
      join(ROOT, entry),
      "--target=bun",
      "--outdir",
      out,
      "--entry-naming",
      `${name}.[ext]`,
    ]);
    if (r.exitCode !== 0) throw new Error(`bundle ${entry}: ${r.stderr}`);
  }
  const { guest, readyMs } = await bootGuest("bench-ipvs", {
    configFile: join(import.meta.dir, "guest/ipvs-bench.toml"),
    memMiB: 1024,
    smp: Number(vcpus),
  });
  try {
    console.log(`guest ready in ${(readyMs / 1000).toFixed(1)} s (TCG, ${vcpus} vCPU)`);
    await guest.shell.check("mkdir -p /tmp/bench");
    for (const f of ["ipvs-agent.js", "fd-watch-worker.js"]) {
      await pushFile(guest.shell, `/tmp/bench/${f}`, readFileSync(join(out, f)));
    }
    const r = await guest.shell.check(
      `/usr/lib/fulcrum/bun /tmp/bench/ipvs-agent.js ${services} ${reals} ${changes} 2>&1`,
      30 * 60_000,
    );
    const line = r.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`agent printed no result:\n${r}`);
    const f = JSON.parse(line) as {
      services: number;
      reals: number;
      ipvsadmRunsMs: number[];
      fulcrumRunsMs: number[];
      ipvsadmEntries: number;
      fulcrumEntries: number;
      fulcrumFailures: number;
      planMs: number;
      planOps: number;
      netlink: Record<string, number>;
      ratios: number[];
      changes: number;
      settleMs: number;
      cold: { change: Percentiles; floor: Percentiles };
      steady: { change: Percentiles; floor: Percentiles };
      ipvsadmChange: Percentiles;
    };
    console.log(
      `IPVS programming, ${f.services} services x ${f.reals} real servers, from an empty table, alternating (same guest, same run):`,
    );
    console.log(
      `  ipvsadm -R : ${f.ipvsadmRunsMs.join(" ms, ")} ms (${f.ipvsadmEntries} real-server entries)`,
    );
    console.log(
      `  fulcrum    : ${f.fulcrumRunsMs.join(" ms, ")} ms (${f.fulcrumEntries} real-server entries, ${f.fulcrumFailures} failures; planning ${f.planMs} ms of each for ${f.planOps} changes)`,
    );
    console.log(`  ratio fulcrum/ipvsadm per round: ${f.ratios.join(", ")} (goal <= 0.8)`);
    console.log(`  fulcrum's netlink time (last round): ${JSON.stringify(f.netlink)}`);
    const ms = (p: Percentiles) => `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms`;
    console.log(
      `single real-server change in the full table, to the kernel's ack (windows of ${f.changes} changes, after ${(f.settleMs / 1000).toFixed(0)} s for the kernel's estimators to settle):`,
    );
    console.log(`  steady state           : ${ms(f.steady.change)} (goal p99 < 10 ms)`);
    console.log(`    floor (GET_INFO)     : ${ms(f.steady.floor)}`);
    console.log(`  cold, while the JIT compiles the change path: ${ms(f.cold.change)}`);
    console.log(`    floor (GET_INFO)     : ${ms(f.cold.floor)}`);
    console.log(`  the same change with one ipvsadm -e per change: ${ms(f.ipvsadmChange)}`);
  } finally {
    await guest.kill();
    guest.cleanup();
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

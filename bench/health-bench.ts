// Benchmark: CPU and memory of fulcrum's health checking of 10,000 real servers (TCP, then HTTP) at a
// 1 s interval, against responders in a namespace. Root only; everything lives in two namespaces
// (fhc-b<pid> for the servers, fhc-b<pid>-c for the checkers) and is removed at the end.
//   bun bench/health-bench.ts [COUNT=10000] [MEASURE_S=15]
// keepalived is tried with the same checks in the same namespace; its checker needs IPVS in the kernel,
// so where IPVS is missing the bench says so instead of printing a comparison.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRoot, Lab, type Proc } from "../test/helpers/responders.ts";

const COUNT = Number(process.argv[2] ?? 10_000);
const MEASURE_S = Number(process.argv[3] ?? 15);
const WARMUP_S = 5;
const PORT = 8080;
const INTERVAL_MS = 1000;

if (!isRoot) {
  console.error("health-bench: needs root (network namespaces)");
  process.exit(1);
}

interface RunnerReport {
  readonly type: string;
  readonly checks: number;
  readonly checksPerS: number;
  readonly failures: number;
  readonly firstFailures: readonly string[];
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly gapP50Ms: number;
  readonly gapP99Ms: number;
  readonly cpuPctOfOneCore: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  readonly peakRunning: number;
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function runFulcrum(lab: Lab, type: "tcp" | "http"): Promise<RunnerReport> {
  const runner = join(import.meta.dir, "health-runner.ts");
  const p = lab.spawnClient([
    process.execPath,
    runner,
    type,
    String(COUNT),
    String(INTERVAL_MS),
    String(WARMUP_S),
    String(MEASURE_S),
    String(PORT),
  ]);
  const line = await p.waitLine(/^\{/, (WARMUP_S + MEASURE_S + 60) * 1000);
  return JSON.parse(line) as RunnerReport;
}

function keepalivedConfig(type: "tcp" | "http"): string {
  const reals: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const addr = `10.252.${(i + 1) >> 8}.${(i + 1) & 255}`;
    const check =
      type === "tcp"
        ? "TCP_CHECK { connect_timeout 1 }"
        : "HTTP_GET { url { path / status_code 200 } connect_timeout 1 }";
    reals.push(`  real_server ${addr} ${PORT} { weight 1\n    ${check}\n  }`);
  }
  return `global_defs { router_id fhc_bench }\nvirtual_server 10.253.0.1 ${PORT} {\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n${reals.join("\n")}\n}\n`;
}

/** keepalived's checker in the same namespace, same servers; its CPU (all its processes) and RSS. */
async function runKeepalived(lab: Lab, type: "tcp" | "http"): Promise<string> {
  const dir = lab.tempDir();
  const conf = join(dir, "keepalived.conf");
  writeFileSync(conf, keepalivedConfig(type));
  const p: Proc = lab.spawnClient([
    "keepalived",
    "-n",
    "-l",
    "-C",
    "-f",
    conf,
    "-p",
    join(dir, "k.pid"),
    "-c",
    join(dir, "c.pid"),
  ]);
  try {
    await Bun.sleep(3000);
    if (!p.alive || p.lines.some((l) => /Can't initialize ipvs/i.test(l))) {
      const why = p.lines.find((l) => /can.t initialize ipvs/i.test(l)) ?? p.lines.at(-1) ?? "exited";
      return `keepalived ${type}: could not run its checker here (${why.replace(/^.*?: /, "").trim()})`;
    }
    await Bun.sleep(WARMUP_S * 1000);
    const pids = async () => {
      const kids = (await Bun.$`pgrep -P ${p.pid}`.nothrow().text()).split("\n").filter((x) => x !== "");
      return [p.pid, ...kids.map(Number)];
    };
    const all = await pids();
    const t0 = all.reduce((a, pid) => a + cpuTicks(pid), 0);
    const w0 = performance.now();
    await Bun.sleep(MEASURE_S * 1000);
    const t1 = all.reduce((a, pid) => a + cpuTicks(pid), 0);
    const wall = (performance.now() - w0) / 1000;
    const hz = 100;
    const cpu = ((t1 - t0) / hz / wall) * 100;
    const rss = all.reduce((a, pid) => a + rssKiB(pid), 0) / 1024;
    return `keepalived ${type}: CPU ${cpu.toFixed(1)} % of one core, RSS ${rss.toFixed(1)} MiB (all processes)`;
  } finally {
    await p.stop();
  }
}

const lab = await Lab.create("b", 1, { clientNs: true });
try {
  await lab.anyIp("10.252.0.0/18");
  // two responders share the port (SO_REUSEPORT): one accept queue overflows under 10,000 connects/s
  // on a busy 2-core machine, and the bench would measure the responder instead of the checker
  const fast = join(import.meta.dir, "../test/helpers/responders-fast.ts");
  const responders = [0, 1].map(() => lab.spawn([process.execPath, fast, "0.0.0.0", String(PORT)]));
  for (const r of responders) await r.waitLine(/^ready$/, 15_000);
  const respTicks = () => responders.reduce((a, r) => a + cpuTicks(r.pid), 0);
  console.log(
    `health-bench: ${COUNT} real servers, interval ${INTERVAL_MS} ms, ${MEASURE_S} s measured after ${WARMUP_S} s`,
  );
  for (const type of ["tcp", "http"] as const) {
    const respCpu0 = respTicks();
    const respT0 = performance.now();
    const r = await runFulcrum(lab, type);
    const respCpu = ((respTicks() - respCpu0) / 100 / ((performance.now() - respT0) / 1000)) * 100;
    console.log(
      `fulcrum ${type}: ${r.checksPerS} checks/s (${r.checks} in window, ${r.failures} failed), ` +
        `latency p50 ${r.latencyP50Ms} ms p99 ${r.latencyP99Ms} ms, ` +
        `start-to-start p50 ${r.gapP50Ms} ms p99 ${r.gapP99Ms} ms, ` +
        `CPU ${r.cpuPctOfOneCore} % of one core, RSS ${r.rssMiB} MiB (peak ${r.peakRssMiB}), ` +
        `peak concurrent ${r.peakRunning}`,
    );
    if (r.failures > 0) console.log(`  first failures: ${r.firstFailures.join("; ")}`);
    console.log(
      `  (the responders in the server namespace used ${respCpu.toFixed(1)} % of one core meanwhile)`,
    );
    console.log(await runKeepalived(lab, type));
  }
} finally {
  await lab.destroy();
}

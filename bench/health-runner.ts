// One HealthEngine checking N real servers, for bench/health-bench.ts (which runs it in a namespace).
//   bun bench/health-runner.ts TYPE COUNT INTERVAL_MS WARMUP_S MEASURE_S PORT
// TYPE is tcp or http. Real servers are 10.252.0.1, 10.252.0.2, ... (any-IP in the server namespace).
// Prints one JSON line: checks done, failures, latency, and this process's CPU (% of one core) and RSS
// over the measuring window.
import { type CheckerTable, DEFAULT_CHECKERS } from "../src/health/checkers/index.ts";
import { HealthEngine } from "../src/health/engine.ts";
import type { Checker, CheckSpec, RealServerSpec } from "../src/health/types.ts";

const [
  type = "tcp",
  countText = "10000",
  intervalText = "1000",
  warmupText = "5",
  measureText = "15",
  portText = "8080",
] = process.argv.slice(2);
const count = Number(countText);
const intervalMs = Number(intervalText);
const port = Number(portText);
if (!(type === "tcp" || type === "http") || !(count > 0 && count <= 16_000)) {
  console.error("usage: health-runner.ts tcp|http COUNT(1..16000) INTERVAL_MS WARMUP_S MEASURE_S PORT");
  process.exit(2);
}

const timing = { intervalMs, timeoutMs: Math.min(1000, intervalMs), rise: 2, fall: 3, jitterMs: 0 };
const check: CheckSpec =
  type === "tcp"
    ? { type: "tcp", ...timing }
    : { type: "http", ...timing, path: "/", expect: [{ min: 200, max: 299 }], verify: false };

let measuring = false;
let checks = 0;
let failures = 0;
const firstFailures: string[] = [];
const latencies: number[] = [];
/** per real server: the previous start, for the distribution of start-to-start gaps */
const lastStart = new Map<string, number>();
const gaps: number[] = [];
const MAX_SAMPLES = 200_000;

function counted<S extends CheckSpec>(inner: Checker<S>): Checker<S> {
  return async (spec, target, signal) => {
    const started = performance.now();
    const prev = lastStart.get(target.address);
    lastStart.set(target.address, started);
    if (measuring && prev !== undefined && gaps.length < MAX_SAMPLES) gaps.push(started - prev);
    const r = await inner(spec, target, signal);
    if (measuring) {
      checks++;
      if (!r.ok) {
        failures++;
        if (firstFailures.length < 5) firstFailures.push(r.reason);
      }
      if (latencies.length < MAX_SAMPLES) latencies.push(r.latencyMs);
    }
    return r;
  };
}

const checkers: Partial<CheckerTable> = {
  tcp: counted(DEFAULT_CHECKERS.tcp),
  http: counted(DEFAULT_CHECKERS.http),
};
const reals: RealServerSpec[] = Array.from({ length: count }, (_, i) => ({
  family: 4,
  address: `10.252.${(i + 1) >> 8}.${(i + 1) & 255}`,
  port,
  weight: 1,
  method: "dr",
  upperThreshold: 0,
  lowerThreshold: 0,
  check,
  startUp: true,
}));

const engine = new HealthEngine({ checkers, core: { maxConcurrent: 2048 } });
let downs = 0;
engine.onEvent((e) => {
  if (e.event === "health.real.down") downs++;
});
const configured = engine.configure([
  { name: "bench", reals, quorum: 1, hysteresis: 0, inhibitOnFailure: false },
]);
if (!configured.ok) throw new Error(configured.reason);

await Bun.sleep(Number(warmupText) * 1000);
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let peakRss = 0;
let peakRunning = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakRunning = Math.max(peakRunning, engine.runningChecks);
}, 100);
await Bun.sleep(Number(measureText) * 1000);
measuring = false;
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
clearInterval(sampler);
const rss = process.memoryUsage().rss;
await engine.stop();

latencies.sort((a, b) => a - b);
gaps.sort((a, b) => a - b);
const pct = (p: number, xs = latencies) =>
  +(xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0).toFixed(1);
console.log(
  JSON.stringify({
    type,
    count,
    intervalMs,
    wallS: +(wallMs / 1000).toFixed(2),
    checks,
    checksPerS: Math.round(checks / (wallMs / 1000)),
    failures,
    firstFailures,
    downs,
    latencyP50Ms: pct(0.5),
    latencyP99Ms: pct(0.99),
    gapP50Ms: pct(0.5, gaps),
    gapP99Ms: pct(0.99, gaps),
    cpuPctOfOneCore: +(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(1),
    rssMiB: +(rss / 2 ** 20).toFixed(1),
    peakRssMiB: +(Math.max(peakRss, rss) / 2 ** 20).toFixed(1),
    peakRunning,
  }),
);
process.exit(0);

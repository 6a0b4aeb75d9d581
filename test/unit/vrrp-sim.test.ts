// Thousands of seeded scenarios of the real core on a simulated network (bounded: VRRP_SIM_SEEDS, default 2000).
import { expect, test } from "bun:test";
import { runScenario, type ScenarioStats } from "./vrrp-sim-harness.ts";

const SEEDS = Number(process.env["VRRP_SIM_SEEDS"] ?? 2000);
const FIRST = Number(process.env["VRRP_SIM_FIRST_SEED"] ?? 1);

test(`simulation: ${SEEDS} seeds of 2-5 routers with loss, delay, partitions, heals, kills`, () => {
  const stats: ScenarioStats = { checks: 0, phases: {} };
  const t0 = performance.now();
  for (let seed = FIRST; seed < FIRST + SEEDS; seed++) runScenario(seed, stats);
  const ms = performance.now() - t0;
  console.log(`vrrp sim: ${SEEDS} seeds, ${stats.checks} property checks, ${ms.toFixed(0)} ms`, stats.phases);
  expect(stats.checks).toBeGreaterThan(SEEDS * 4);
}, 120_000);

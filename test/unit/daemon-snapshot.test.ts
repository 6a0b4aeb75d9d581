// The daemon's snapshot: check results are stamped on the health engine's monotonic clock and must come
// out on the wall clock every front end shows (TUI history times, /metrics timestamps, API "at").
import { expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { buildSnapshot } from "../../src/daemon/snapshot.ts";
import type { ServiceSnapshot as HealthServiceSnapshot } from "../../src/health/core.ts";

const wallNow = Date.UTC(2026, 10, 23, 12, 0, 0);

/** The daemon's snapshot of one service with one real server whose health layer says `admin`. */
function snapshotWith(admin: "enabled" | "drain" | "disabled") {
  const loaded = parseConfig(
    `[interfaces.eth0]
addresses = ["10.0.1.2/24", "10.0.1.100/32"]
[services.web]
vip = "10.0.1.100"
port = 80
method = "dr"
check = { type = "tcp" }
[[services.web.real]]
address = "10.0.1.11"
`,
    "test.toml",
  );
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const healthNow = 5_000; // the engine started 5 s ago on its own clock
  const health: HealthServiceSnapshot = {
    service: "web",
    quorumUp: true,
    liveWeight: 1,
    quorum: 1,
    sorryActive: false,
    pool: [],
    reals: [
      {
        real: "10.0.1.11:80",
        up: true,
        admin,
        configuredWeight: 1,
        effectiveWeight: 1,
        weightOverride: null,
        dynamicWeight: null,
        okStreak: 2,
        failStreak: 0,
        lastReason: "connected",
        checking: false,
        nextDueMs: null,
        history: [
          { atMs: 3_000, ok: true, reason: "connected", latencyMs: 1.5 },
          { atMs: 4_500, ok: false, reason: "timeout", latencyMs: 1000 },
        ],
      },
    ],
  };
  return buildSnapshot({
    config: loaded.config,
    version: "0.1.0",
    build: "test",
    startedAtMs: wallNow - 10_000,
    nowMs: wallNow,
    healthNowMs: healthNow,
    vrrp: null,
    vrrpHistory: new Map(),
    ipvs: [],
    health: (name) => (name === "web" ? health : undefined),
    events: [],
    update: { bootSlot: "a", state: "idle", progress: null, lastResult: "" },
  });
}

test("check times are converted from the health clock to the wall clock", () => {
  const checks = snapshotWith("enabled").services[0]?.realServers[0]?.checks ?? [];
  expect(checks.map((c) => wallNow - c.atMs)).toEqual([2_000, 500]);
  expect(checks.map((c) => c.reason)).toEqual(["connected", "timeout"]);
});

test("a drained real server stays drained after its drain finished (disabled) until enabled", () => {
  const draining = (admin: "enabled" | "drain" | "disabled") =>
    snapshotWith(admin).services[0]?.realServers[0]?.draining;
  expect(draining("enabled")).toBe(false);
  expect(draining("drain")).toBe(true);
  expect(draining("disabled")).toBe(true);
});

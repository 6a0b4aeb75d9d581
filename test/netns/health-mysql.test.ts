// MySQL checks against a real MariaDB from Debian in a namespace: greeting and authenticated modes,
// writability, stop/kill/restart, and the operator's real worry: after 2,000 checks of each mode,
// Aborted_connects has not grown and the checking host is not blocked (max_connect_errors = 5 here),
// while a naive connect-and-hang-up check from another address gets blocked by the same server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createConnection } from "node:net";
import { mysqlChecker } from "../../src/health/checkers/mysql.ts";
import { HealthEngine } from "../../src/health/engine.ts";
import type { CheckResult, CheckTarget, HealthEvent, MysqlCheckSpec } from "../../src/health/types.ts";
import { isRoot, Lab, type Mariadb, startMariadb, waitFor } from "../helpers/responders.ts";

const base = {
  type: "mysql" as const,
  intervalMs: 1000,
  timeoutMs: 3000,
  rise: 1,
  fall: 1,
  jitterMs: 0,
  query: "SELECT 1",
  requireWritable: false,
};
const greeting: MysqlCheckSpec = { ...base, mode: "greeting", user: "fulcrum_probe" };
const authed: MysqlCheckSpec = { ...base, mode: "query", user: "fulcrum", password: "s3cret-pw" };

async function runMany(spec: MysqlCheckSpec, target: CheckTarget, total: number, parallel: number) {
  let next = 0;
  const failures: CheckResult[] = [];
  const worker = async () => {
    while (next < total) {
      next++;
      const r = await mysqlChecker(spec, target, AbortSignal.timeout(spec.timeoutMs));
      if (!r.ok && failures.length < 10) failures.push(r);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return failures;
}

describe.skipIf(!isRoot)("mysql checks against MariaDB in a namespace", () => {
  let lab: Lab;
  let db: Mariadb;
  let target: CheckTarget;

  beforeAll(async () => {
    lab = await Lab.create("m");
    db = await startMariadb(lab, lab.serverIp(0), 3306, 5);
    await db.sql(
      "CREATE USER 'fulcrum_probe'@'%'; " +
        "CREATE USER 'fulcrum'@'%' IDENTIFIED BY 's3cret-pw'; GRANT SLAVE MONITOR ON *.* TO 'fulcrum'@'%';",
    );
    target = { family: 4, address: lab.serverIp(0), port: 3306 };
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
  }, 60_000);

  test("greeting and authenticated modes pass; wrong password, read-only and lag are reported", async () => {
    const g = await mysqlChecker(greeting, target, AbortSignal.timeout(3000));
    expect(g.ok).toBe(true);
    expect(g.reason).toMatch(/^MySQL .*MariaDB.*, logged in as fulcrum_probe$/);
    expect(await mysqlChecker(authed, target, AbortSignal.timeout(3000))).toMatchObject({
      ok: true,
      reason: "MySQL ok",
    });
    const lag = await mysqlChecker({ ...authed, maxReplicationLagS: 5 }, target, AbortSignal.timeout(3000));
    expect(lag.ok).toBe(true); // not a replica: no lag to hold against it
    const wrong = await mysqlChecker({ ...authed, password: "nope" }, target, AbortSignal.timeout(3000));
    expect(wrong.ok).toBe(false);
    expect(wrong.reason).toContain("MySQL error 1045");
    const badQuery = await mysqlChecker(
      { ...authed, query: "SELECT * FROM nowhere.nothing" },
      target,
      AbortSignal.timeout(3000),
    );
    expect(badQuery.reason).toMatch(/^MySQL error \d+/);
    await db.sql("SET GLOBAL read_only = 1");
    try {
      const ro = await mysqlChecker({ ...authed, requireWritable: true }, target, AbortSignal.timeout(3000));
      expect(ro).toMatchObject({ ok: false, reason: "MySQL is read-only" });
    } finally {
      await db.sql("SET GLOBAL read_only = 0");
    }
    expect(
      (await mysqlChecker({ ...authed, requireWritable: true }, target, AbortSignal.timeout(3000))).ok,
    ).toBe(true);
  });

  test("2,000 checks of each mode: no aborted connects, host not blocked; a naive check gets blocked", async () => {
    const abortedBefore = await db.status("Aborted_connects");
    const connsBefore = await db.status("Connections");
    expect(await runMany(greeting, target, 2000, 8)).toEqual([]);
    expect(await runMany(authed, target, 2000, 8)).toEqual([]);
    const abortedAfter = await db.status("Aborted_connects");
    const connsAfter = await db.status("Connections");
    console.log(
      `mariadb after 4000 checks: Connections +${connsAfter - connsBefore}, Aborted_connects +${abortedAfter - abortedBefore}`,
    );
    expect(connsAfter - connsBefore).toBeGreaterThanOrEqual(4000);
    expect(abortedAfter - abortedBefore).toBe(0);
    // still welcome: a check from the same host passes
    expect((await mysqlChecker(greeting, target, AbortSignal.timeout(3000))).ok).toBe(true);

    // Control: connect, read the greeting, hang up, from the second host address. Six of them exceed
    // max_connect_errors = 5 and MariaDB blocks that host, which our check then reports.
    for (let i = 0; i < 6; i++) {
      await new Promise<void>((resolve) => {
        const s = createConnection({ host: target.address, port: 3306, localAddress: lab.hostIp2 });
        s.once("data", () => {
          s.destroy();
          resolve();
        });
        s.once("error", () => resolve());
      });
    }
    expect(await db.status("Aborted_connects")).toBeGreaterThan(abortedAfter);
    const blocked = await waitFor(
      async () => {
        const r = await mysqlChecker({ ...greeting, source: lab.hostIp2 }, target, AbortSignal.timeout(3000));
        return r.ok ? undefined : r;
      },
      5000,
      "the naive host to be blocked",
    );
    expect(blocked.reason).toMatch(/^MySQL error 1129: Host .* is blocked/);
    expect((await mysqlChecker(greeting, target, AbortSignal.timeout(3000))).ok).toBe(true);
    await db.sql("FLUSH HOSTS");
  }, 120_000);

  test("replica lag: a running replica passes, a stopped or delayed one fails", async () => {
    const replica = await startMariadb(lab, lab.serverIp(1), 3306, 5, 2);
    await db.sql(
      "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl-pw'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';",
    );
    // from the start of the primary's binlog: the check users replicate too
    const file = (await db.sql("SHOW BINARY LOGS")).split("\n")[0]!.split("\t")[0]!;
    await replica.sql(
      `CHANGE MASTER TO MASTER_HOST='${db.address}', MASTER_PORT=3306, MASTER_USER='repl', ` +
        `MASTER_PASSWORD='repl-pw', MASTER_LOG_FILE='${file}', MASTER_LOG_POS=4; START SLAVE;`,
    );
    const rt: CheckTarget = { family: 4, address: lab.serverIp(1), port: 3306 };
    const lagSpec: MysqlCheckSpec = { ...authed, maxReplicationLagS: 2 };
    const running = await waitFor(
      async () => {
        const r = await mysqlChecker(lagSpec, rt, AbortSignal.timeout(3000));
        return r.ok ? r : undefined;
      },
      20_000,
      "the replica to catch up",
    );
    expect(running.reason).toBe("MySQL ok, replica 0 s behind");
    await replica.sql("STOP SLAVE SQL_THREAD");
    expect(await mysqlChecker(lagSpec, rt, AbortSignal.timeout(3000))).toMatchObject({
      ok: false,
      reason: "MySQL replication is not running",
    });
    // a delayed replica: events wait 10 s before they apply, so the lag grows past the bound
    await replica.sql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=10; START SLAVE;");
    await db.sql(
      "CREATE DATABASE IF NOT EXISTS fhc_lag; CREATE TABLE IF NOT EXISTS fhc_lag.t (x INT); INSERT INTO fhc_lag.t VALUES (1);",
    );
    const behind = await waitFor(
      async () => {
        const r = await mysqlChecker(lagSpec, rt, AbortSignal.timeout(3000));
        return !r.ok && r.reason.includes("behind") ? r : undefined;
      },
      15_000,
      "the lag to exceed 2 s",
    );
    expect(behind.reason).toMatch(/^MySQL replica \d+ s behind \(max 2 s\)$/);
    await replica.proc.stop();
  }, 90_000);

  test("the engine takes a stopped (SIGSTOP) and a killed MariaDB down and brings it back up", async () => {
    const interval = 300;
    const timeout = 250;
    const spec: MysqlCheckSpec = { ...greeting, intervalMs: interval, timeoutMs: timeout, rise: 2, fall: 2 };
    const engine = new HealthEngine();
    const events: { at: number; e: HealthEvent }[] = [];
    engine.onEvent((e) => events.push({ at: performance.now(), e }));
    try {
      engine.configure([
        {
          name: "db",
          quorum: 1,
          hysteresis: 0,
          inhibitOnFailure: false,
          reals: [
            {
              family: 4,
              address: target.address,
              port: 3306,
              weight: 1,
              method: "dr",
              upperThreshold: 0,
              lowerThreshold: 0,
              check: spec,
              startUp: false,
            },
          ],
        },
      ]);
      await waitFor(() => engine.pool("db")?.length === 1, 5000, "db up");
      // Bounds are fall x interval (+ timeout); the slack only absorbs a busy machine's scheduling
      // (bench/health-bench.ts measures the real figures).
      const SCHEDULING_SLACK_MS = 1500;
      const stoppedAt = performance.now();
      db.proc.signal("SIGSTOP");
      const down = await waitFor(() => events.find((x) => x.e.event === "health.real.down"), 5000, "db down");
      db.proc.signal("SIGCONT");
      expect(down.e.reason).toBe(`timeout after ${timeout} ms from ${target.address}:3306, 2/2 fails`);
      const downAfter = down.at - stoppedAt;
      const contAt = performance.now();
      const up = await waitFor(
        () => events.find((x) => x.e.event === "health.real.up" && x.at > contAt),
        5000,
        "db up",
      );
      const upAfter = up.at - contAt;
      console.log(
        `mariadb SIGSTOP: down after ${downAfter.toFixed(0)} ms, up ${upAfter.toFixed(0)} ms after SIGCONT`,
      );
      expect(downAfter).toBeLessThanOrEqual(2 * interval + timeout + SCHEDULING_SLACK_MS);
      expect(upAfter).toBeLessThanOrEqual(2 * interval + SCHEDULING_SLACK_MS);
      expect(engine.pool("db")).toHaveLength(1);

      const killedAt = performance.now();
      await db.proc.kill();
      const killed = await waitFor(
        () => events.find((x) => x.e.event === "health.real.down" && x.at > killedAt),
        5000,
        "db down after kill",
      );
      expect(killed.e.reason).toBe(`connection refused from ${target.address}:3306, 2/2 fails`);
      expect(killed.at - killedAt).toBeLessThanOrEqual(2 * interval + timeout + SCHEDULING_SLACK_MS);
      expect(engine.pool("db")).toEqual([]);
      await db.restart(lab);
      const restartedAt = performance.now();
      const back = await waitFor(
        () => events.find((x) => x.e.event === "health.real.up" && x.at > killedAt),
        10_000,
        "db up after restart",
      );
      expect(back.at - restartedAt).toBeLessThanOrEqual(2 * interval + SCHEDULING_SLACK_MS);
      console.log(
        `mariadb SIGKILL: down after ${(killed.at - killedAt).toFixed(0)} ms; up again after restart`,
      );
    } finally {
      await engine.stop();
    }
    expect(engine.runningChecks).toBe(0);
  }, 60_000);
});

// PID 1's rule for a daemon that exits on its own (pure), and the process side with real processes.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BoxEvent } from "../../src/log/events.ts";
import { DAEMON_READY_MESSAGE, DaemonProcess } from "../../src/system/daemon-process.ts";
import {
  type DaemonExit,
  DEFAULT_SUPERVISOR_LIMITS,
  INITIAL_SUPERVISOR_STATE,
  onDaemonExit,
  type SupervisorDecision,
  type SupervisorState,
} from "../../src/system/supervisor.ts";

function run(exitTimesMs: readonly number[], bootCounted: boolean): SupervisorDecision[] {
  let state: SupervisorState = INITIAL_SUPERVISOR_STATE;
  const out: SupervisorDecision[] = [];
  for (const atMs of exitTimesMs) {
    const exit: DaemonExit = { atMs, code: 1, signal: null, bootCounted };
    const r = onDaemonExit(state, exit);
    state = r.state;
    expect(state.exits.length).toBeLessThanOrEqual(DEFAULT_SUPERVISOR_LIMITS.crashLoopExits);
    out.push(r.decision);
  }
  return out;
}

describe("supervisor policy", () => {
  test("the first restart is immediate, later ones back off", () => {
    const d = run([1000, 2000, 3000, 4000], false);
    expect(d.map((x) => (x.kind === "restart" ? x.delayMs : -1))).toEqual([0, 250, 1000, 2000]);
    expect(d[0]?.reason).toBe("the daemon exited with status 1; restarting it (exit 1 within 60 s)");
  });

  test("exits spread wider than the window never add up to a crash loop", () => {
    const d = run([0, 61_000, 122_000, 183_000, 244_000, 305_000, 366_000], true);
    expect(d.every((x) => x.kind === "restart" && x.delayMs === 0)).toBe(true);
  });

  test("a crash loop on a boot still counted reboots (the loader then counts a failed try)", () => {
    const d = run([0, 100, 400, 1500, 3600], true);
    expect(d.slice(0, 4).every((x) => x.kind === "restart")).toBe(true);
    expect(d[4]?.kind).toBe("reboot");
    expect(d[4]?.reason).toContain("5 exits within 60 s on a boot that is not yet proven good");
  });

  test("a crash loop on a proven slot keeps retrying, slowly", () => {
    const d = run([0, 100, 400, 1500, 3600, 34_000], false);
    expect(d[4]).toMatchObject({ kind: "restart", delayMs: DEFAULT_SUPERVISOR_LIMITS.crashLoopRetryMs });
    expect(d[4]?.reason).toContain("crash loop");
    expect(d[5]).toMatchObject({ kind: "restart", delayMs: DEFAULT_SUPERVISOR_LIMITS.crashLoopRetryMs });
  });

  test("a kill by a signal is named as such", () => {
    const r = onDaemonExit(INITIAL_SUPERVISOR_STATE, {
      atMs: 0,
      code: null,
      signal: "SIGKILL",
      bootCounted: false,
    });
    expect(r.decision.reason).toStartWith("the daemon killed by SIGKILL; restarting it");
  });
});

describe("DaemonProcess with real processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "fulcrum-supervisor-"));
  const pidFile = join(dir, "daemon.pid");
  const events: BoxEvent[] = [];
  const sink = { emit: (e: BoxEvent) => void events.push(e) };

  async function until<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (performance.now() > deadline) throw new Error("condition not met in time");
      await Bun.sleep(10);
    }
  }

  test("waits for go, restarts a killed child at once, keeps the pid file, stops in order", async () => {
    // The child records that it got "go" on stdin, then runs until told to stop.
    const marker = join(dir, "went");
    const script = `
      const r = Bun.stdin.stream().getReader(); await r.read();
      require("node:fs").appendFileSync(${JSON.stringify(marker)}, process.pid + "\\n");
      process.on("SIGTERM", () => process.exit(0));
      setInterval(() => {}, 1000);`;
    const reboots: string[] = [];
    const d = new DaemonProcess({
      cmd: [process.execPath, "-e", script],
      events: sink,
      bootCounted: () => false,
      reboot: (r) => void reboots.push(r),
      pidFile,
    });
    d.start();
    const first = await until(() => d.pid);
    expect(readFileSync(pidFile, "utf8").trim()).toBe(String(first));
    await Bun.sleep(200); // it must not go on before release(): checked right below
    expect(existsSync(marker)).toBe(false);
    d.release();
    await until(() => (existsSync(marker) ? true : undefined));

    process.kill(first, "SIGKILL");
    const second = await until(() => (d.pid !== undefined && d.pid !== first ? d.pid : undefined));
    await until(() => (readFileSync(marker, "utf8").includes(`${second}\n`) ? true : undefined));
    expect(readFileSync(pidFile, "utf8").trim()).toBe(String(second));
    const exited = events.find((e) => e.event === "system.daemon_exited");
    expect(d.signal("SIGHUP")).toBe(true); // passed on: the child's default action for SIGHUP ends it
    const third = await until(() => (d.pid !== undefined && d.pid !== second ? d.pid : undefined));
    expect(third).not.toBe(second);
    expect(exited).toMatchObject({ signal: "SIGKILL", decision: "restart", restarts: 1 });

    await d.stop();
    expect(d.pid).toBeUndefined();
    expect(existsSync(pidFile)).toBe(false);
    await Bun.sleep(300); // a stopped daemon is not restarted
    expect(d.pid).toBeUndefined();
    expect(reboots).toEqual([]);
  });

  test("the child's ready message reaches PID 1 over the IPC channel, once per start", async () => {
    let readies = 0;
    const d = new DaemonProcess({
      cmd: [
        process.execPath,
        "-e",
        `process.send?.(${JSON.stringify(DAEMON_READY_MESSAGE)}); setInterval(() => {}, 1000);`,
      ],
      events: sink,
      bootCounted: () => false,
      reboot: () => {},
      pidFile,
      onReady: () => void readies++,
    });
    d.start();
    await until(() => (readies === 1 ? true : undefined));
    const first = await until(() => d.pid);
    process.kill(first, "SIGKILL");
    await until(() => (readies === 2 ? true : undefined));
    await d.stop();
    expect(readies).toBe(2);
  });

  test("a child that keeps failing on a counted boot makes the supervisor ask for a reboot", async () => {
    const reboots: string[] = [];
    const d = new DaemonProcess({
      cmd: [process.execPath, "-e", "process.exit(3)"],
      events: sink,
      bootCounted: () => true,
      reboot: (r) => void reboots.push(r),
      pidFile,
      limits: { ...DEFAULT_SUPERVISOR_LIMITS, backoffMs: [0, 10] },
    });
    d.start();
    d.release();
    const reason = await until(() => reboots[0], 30_000);
    expect(reason).toContain("exited with status 3: 5 exits within 60 s");
    expect(d.pid).toBeUndefined();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 40_000);
});

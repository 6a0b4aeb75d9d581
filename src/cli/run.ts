// `fulcrum run CONFIG`: the appliance daemon. Loads the config, brings the box to it, and keeps
// running until SIGTERM/SIGINT. A config that does not validate is refused with the same messages
// as `fulcrum check`. On the box PID 1 (src/init-main.ts, its own bundle) does the init duties and runs
// this command as a supervised child process, told so by its environment.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatConfigError, loadConfigFile, parseConfig } from "../config/load.ts";
import { LogRing } from "../console/rings.ts";
import { EventBus } from "../log/events.ts";
import { createLogger } from "../log/logger.ts";
import { LogOutput } from "../log/output.ts";
import { readBootInfo } from "../system/boot.ts";
import { DAEMON_READY_MESSAGE, SUPERVISED_ENV } from "../system/daemon-process.ts";
import { DATA_MOUNT_POINT } from "../system/datapart.ts";
import { runInit } from "../system/init.ts";
import { isPid1 } from "../system/pid1.ts";
import { DEFAULT_CONFIG_TOML } from "../system/provision.ts";
import { BUILD_ID, VERSION } from "../version.ts";
import type { CliIo } from "./cli.ts";

export async function runCommand(path: string, io: CliIo): Promise<number> {
  // The serial console takes the log output over once it holds the port; the ring feeds its log tail.
  const logOutput = new LogOutput();
  const logRing = new LogRing();
  const log = createLogger({ output: logOutput, tee: logRing.stream });
  const events = new EventBus(log);
  // Started as PID 1 itself (by a shim other than the image's): do what fulcrum-init.js does.
  if (isPid1()) return runInit(path, events, process.argv[1] ?? "fulcrum");
  const supervised = process.env[SUPERVISED_ENV] === "1";
  // Imported here, not at the top: under PID 1 its evaluation overlaps with the wait for "go", and the
  // PID 1 branch above never pays for it.
  const daemonModule = import("../daemon/daemon.ts");
  if (supervised) await awaitInitDone(events);
  return runDaemon(path, io, { log, logOutput, logRing }, events, supervised, (await daemonModule).Daemon);
}

/** Supervised: PID 1 writes a line to our stdin once /data and the config are in place. */
async function awaitInitDone(events: EventBus): Promise<void> {
  const INIT_WAIT_MS = 300_000;
  const reader = Bun.stdin.stream().getReader();
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), INIT_WAIT_MS));
  const line = (async () => {
    let seen = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done || value.includes(10)) return "go";
      seen += value.length;
      if (seen > 64) return "go"; // not a handshake we know: don't wait on it
    }
  })();
  if ((await Promise.race([line, timeout])) === "timeout") {
    events.emit({ event: "fulcrum.init_wait_timeout", reason: "PID 1 did not say go; starting anyway" });
  }
  reader.releaseLock();
}

async function runDaemon(
  path: string,
  io: CliIo,
  {
    log,
    logOutput,
    logRing,
  }: { log: ReturnType<typeof createLogger>; logOutput: LogOutput; logRing: LogRing },
  events: EventBus,
  onBox: boolean,
  Daemon: typeof import("../daemon/daemon.ts").Daemon,
): Promise<number> {
  let loaded = await loadConfigFile(path);
  const configFallback = !loaded.ok;
  const boot = onBox ? readBootInfo() : undefined;
  if (!loaded.ok) {
    for (const e of loaded.errors) io.err(`${formatConfigError(e)}\n`);
    events.emit({ event: "config.rejected", reason: `${loaded.errors.length} problem(s) in ${path}`, path });
    if (!onBox) return 1;
    // The box cannot refuse to run: keep it reachable on the safe default, and say so.
    loaded = parseConfig(DEFAULT_CONFIG_TOML, "(built-in safe default)");
    if (!loaded.ok) return 1;
    events.emit({
      event: "config.fallback",
      reason: `running on the SAFE DEFAULT config (console up, no VIPs) until ${path} is fixed`,
      path,
    });
  }
  events.emit({
    event: "config.loaded",
    reason: `loaded ${loaded.path}`,
    path: loaded.path,
    version: VERSION,
    build: BUILD_ID,
  });

  const daemon = await Daemon.start(loaded.config, {
    log,
    events,
    configPath: path,
    dataDir: onBox ? DATA_MOUNT_POINT : (process.env["FULCRUM_DATA_DIR"] ?? join(tmpdir(), "fulcrum-data")),
    stateDir: process.env["FULCRUM_STATE_DIR"] ?? "/run/fulcrum",
    bootSlot: boot?.slot ?? (onBox ? "?" : "dev"),
    ...(boot === undefined ? {} : { boot }),
    configFallback,
    logOutput,
    logRing,
    // On the box the daemon runs the serial console ([system] console); a development run leaves the
    // host's serial port alone.
    serialConsole: onBox,
    // PID 1 owns power: SIGTERM asks it for an orderly reboot (it stops us first).
    reboot: onBox ? () => process.kill(1, "SIGTERM") : null,
  });
  // keepalived's convention: SIGHUP re-reads the config (only what changed is applied).
  process.on("SIGHUP", () => void daemon.reload(true));
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  events.emit({ event: "fulcrum.ready", reason: "fulcrum ready", pid: process.pid });
  if (onBox) process.send?.(DAEMON_READY_MESSAGE);
  const signal = await stopped;
  events.emit({ event: "fulcrum.stopping", reason: `received ${signal}` });
  await daemon.stop();
  return 0;
}

// `fulcrum run CONFIG`: the appliance daemon. Loads the config, brings the box to it, and keeps
// running until SIGTERM/SIGINT. A config that does not validate is refused with the same messages
// as `fulcrum check`.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatConfigError, loadConfigFile, parseConfig } from "../config/load.ts";
import { Daemon } from "../daemon/daemon.ts";
import { EventBus } from "../log/events.ts";
import { createLogger } from "../log/logger.ts";
import { DATA_MOUNT_POINT } from "../system/datapart.ts";
import { isPid1, startPid1 } from "../system/pid1.ts";
import { DEFAULT_CONFIG_TOML } from "../system/provision.ts";
import { BUILD_ID, VERSION } from "../version.ts";
import type { CliIo } from "./cli.ts";

export async function runCommand(path: string, io: CliIo): Promise<number> {
  const log = createLogger();
  const events = new EventBus(log);
  // On the box we are init: mount, load modules, bring up /data (where the config lives) first.
  const pid1 = isPid1() ? await startPid1(events) : undefined;
  let loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.err(`${formatConfigError(e)}\n`);
    events.emit({ event: "config.rejected", reason: `${loaded.errors.length} problem(s) in ${path}`, path });
    if (pid1 === undefined) return 1;
    // PID 1 cannot refuse to run: keep the box reachable on the safe default, and say so.
    loaded = parseConfig(DEFAULT_CONFIG_TOML, "(built-in safe default)");
    if (!loaded.ok) return pid1.shutdown("reboot", "the built-in default config does not validate");
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
    dataDir:
      pid1 !== undefined
        ? DATA_MOUNT_POINT
        : (process.env["FULCRUM_DATA_DIR"] ?? join(tmpdir(), "fulcrum-data")),
    stateDir: process.env["FULCRUM_STATE_DIR"] ?? "/run/fulcrum",
    bootSlot: pid1?.boot.slot ?? "dev",
    reboot: pid1 === undefined ? null : (reason) => pid1.requestPower("reboot", reason),
  });
  // keepalived's convention: SIGHUP re-reads the config (only what changed is applied).
  process.on("SIGHUP", () => void daemon.reload(true));

  const stopped =
    pid1 !== undefined
      ? pid1.powerRequested
      : new Promise<string>((resolve) => {
          process.once("SIGTERM", () => resolve("SIGTERM"));
          process.once("SIGINT", () => resolve("SIGINT"));
        });
  events.emit({ event: "fulcrum.ready", reason: "fulcrum ready", pid: process.pid });
  const signal = await stopped;
  events.emit({ event: "fulcrum.stopping", reason: `received ${signal}` });
  if (pid1 !== undefined) {
    // PID 1 must reach the power-off/reboot call whatever happens while stopping (init may not exit).
    await daemon
      .stop()
      .catch((err: unknown) =>
        events.emit({ event: "fulcrum.stop_failed", reason: `daemon stop failed: ${String(err)}` }),
      );
    return pid1.shutdown(pid1Action(signal), "daemon stopped");
  }
  await daemon.stop();
  return 0;
}

function pid1Action(request: string): "poweroff" | "reboot" | "halt" {
  return request === "poweroff" || request === "halt" ? request : "reboot";
}

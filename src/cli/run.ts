// `fulcrum run CONFIG`: the appliance daemon. Loads the config, brings the box to it, and keeps
// running until SIGTERM/SIGINT. A config that does not validate is refused with the same messages
// as `fulcrum check`.
import { formatConfigError, loadConfigFile } from "../config/load.ts";
import { EventBus } from "../log/events.ts";
import { createLogger } from "../log/logger.ts";
import { BUILD_ID, VERSION } from "../version.ts";
import type { CliIo } from "./cli.ts";

export async function runCommand(path: string, io: CliIo): Promise<number> {
  const log = createLogger();
  const events = new EventBus(log);
  const loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.err(`${formatConfigError(e)}\n`);
    events.emit({ event: "config.rejected", reason: `${loaded.errors.length} problem(s) in ${path}`, path });
    return 1;
  }
  events.emit({ event: "config.loaded", reason: `loaded ${path}`, path, version: VERSION, build: BUILD_ID });

  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  events.emit({ event: "fulcrum.ready", reason: "fulcrum ready", pid: process.pid });
  const signal = await stopped;
  events.emit({ event: "fulcrum.stopping", reason: `received ${signal}` });
  return 0;
}

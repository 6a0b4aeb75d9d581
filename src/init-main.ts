#!/usr/bin/env bun
// PID 1's entry on the box (the image's shim execs it): the init duties and the daemon's supervision,
// bundled on their own (fulcrum-init.js) so that PID 1, which starts before anything else, loads only
// their code. The daemon is the app next to it: `fulcrum.js run CONFIG` (`main.ts` from a checkout).
import { dirname, join } from "node:path";
import { EventBus } from "./log/events.ts";
import { createLogger } from "./log/logger.ts";
import { runInit } from "./system/init.ts";
import { isPid1 } from "./system/pid1.ts";

const [configPath = "/data/config/fulcrum.toml"] = process.argv.slice(2);
if (!isPid1()) {
  process.stderr.write("fulcrum-init runs as PID 1 only; elsewhere use `fulcrum run CONFIG`\n");
  process.exit(2);
}
const daemonEntry = join(dirname(Bun.main), Bun.main.endsWith(".js") ? "fulcrum.js" : "main.ts");
void runInit(configPath, new EventBus(createLogger()), daemonEntry);

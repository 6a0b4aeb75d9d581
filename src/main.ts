#!/usr/bin/env bun
// Entry point: `bun run fulcrum <command>` in a checkout, `fulcrum <command>` on a box.
import { runCli } from "./cli/cli.ts";

// Exit as soon as the command is done: the daemon has already stopped its parts in order, and a worker
// or timer still winding down must not hold the process (or a restart) up. Logs are written synchronously.
// (No top-level await: the image's bundle is CommonJS so that it can ship as precompiled bytecode.)
void runCli(process.argv.slice(2)).then((code) => process.exit(code));

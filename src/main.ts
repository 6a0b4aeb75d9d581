#!/usr/bin/env bun
// Entry point: `bun run fulcrum <command>` in a checkout, `fulcrum <command>` on a box.
import { runCli } from "./cli/cli.ts";

process.exitCode = await runCli(process.argv.slice(2));

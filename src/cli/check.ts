// `fulcrum check CONFIG`: the operator's `keepalived -t`. Exit 0 when valid, 1 with one line per problem.
import { formatConfigError, loadConfigFile } from "../config/load.ts";
import type { CliIo } from "./cli.ts";

export async function checkCommand(path: string, io: CliIo): Promise<number> {
  const result = await loadConfigFile(path);
  if (!result.ok) {
    for (const e of result.errors) io.err(`${formatConfigError(e)}\n`);
    return 1;
  }
  io.out(`${path}: configuration OK\n`);
  return 0;
}

// The config loader: TOML text -> validated Config, or every problem found, each with
// FILE:LINE:COL. A TOML syntax error stops at that error; everything after it is semantic and
// reported all at once, sorted by position.

import { readFile } from "node:fs/promises";
import { parse, TomlError } from "smol-toml";
import { crossCheck } from "./cross.ts";
import { type ConfigError, sortErrors } from "./errors.ts";
import { buildPositionIndex } from "./positions.ts";
import { Ctx, TableReader } from "./reader.ts";
import { readInterfaces } from "./sections/interfaces.ts";
import { readIpvs } from "./sections/ipvs.ts";
import { readServices } from "./sections/services.ts";
import { readSystem } from "./sections/system.ts";
import { readUpdate } from "./sections/update.ts";
import { readVrrp } from "./sections/vrrp.ts";
import type { Config } from "./types.ts";

export type { ConfigError } from "./errors.ts";
export { formatConfigError } from "./errors.ts";

export type LoadResult = { ok: true; config: Config; path: string } | { ok: false; errors: ConfigError[] };

export const TOP_KEYS = ["system", "interfaces", "vrrp", "services", "ipvs", "update"];
/** A config is a few kilobytes; refuse anything absurd before parsing it. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export function parseConfig(text: string, file: string): LoadResult {
  if (text.length > MAX_CONFIG_BYTES) {
    return {
      ok: false,
      errors: [{ file, line: 1, col: 1, message: `file is larger than ${MAX_CONFIG_BYTES} bytes` }],
    };
  }
  let raw: Record<string, unknown>;
  try {
    raw = parse(text, { maxDepth: 64 }) as Record<string, unknown>;
  } catch (e) {
    return { ok: false, errors: [syntaxError(e, file, text)] };
  }
  const ctx = new Ctx(file, buildPositionIndex(text));
  const root = new TableReader(ctx, [], raw, TOP_KEYS);
  const system = readSystem(ctx, raw["system"]);
  const interfaces = readInterfaces(ctx, root);
  const vrrp = readVrrp(ctx, root, interfaces);
  const services = readServices(ctx, root);
  const ipvs = readIpvs(ctx, root);
  const update = readUpdate(ctx, root);
  crossCheck(ctx, {
    system,
    ipForwardWritten: ctx.index.get(["system", "sysctl", "ip_forward"]) !== undefined,
    interfaces,
    instances: vrrp.instances,
    services,
    ipvs,
  });
  if (ctx.errors.length > 0) return { ok: false, errors: sortErrors(ctx.errors) };
  const config: Config = {
    file,
    system,
    interfaces: interfaces.map((i) => i.config),
    vrrp: vrrp.config,
    services: services.map((s) => s.config),
    ipvs,
    update,
  };
  return { ok: true, config, path: file };
}

export async function loadConfigFile(path: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const reason = e instanceof Error && "code" in e ? osReason(e as NodeJS.ErrnoException) : String(e);
    return { ok: false, errors: [{ file: path, line: 1, col: 1, message: `cannot read config: ${reason}` }] };
  }
  return parseConfig(text, path);
}

function osReason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOENT":
      return "no such file (ENOENT)";
    case "EACCES":
      return "permission denied (EACCES)";
    case "EISDIR":
      return "is a directory (EISDIR)";
    default:
      return e.code === undefined ? e.message : `${e.message.split(",")[0]} (${e.code})`;
  }
}

function syntaxError(e: unknown, file: string, text: string): ConfigError {
  if (e instanceof TomlError) {
    // smol-toml's message is "Invalid TOML document: <what>\n\n<code frame>"; keep <what>.
    let what = (e.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    const lineText = text.split(/\r?\n/)[e.line - 1] ?? "";
    if (what.startsWith("control characters") && e.column > lineText.length) {
      // The newline that ended an unclosed string is the "control character".
      what = 'unterminated string (a string ends on its own line; use """ for multi-line text)';
    }
    return { file, line: e.line, col: e.column, message: `TOML syntax error: ${what}` };
  }
  return {
    file,
    line: 1,
    col: 1,
    message: `TOML syntax error: ${e instanceof Error ? e.message : String(e)}`,
  };
}

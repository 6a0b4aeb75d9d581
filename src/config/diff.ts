// What a reload would change, as lines an operator reads before confirming:
//   + services[web-new]
//   - services[old]
//   ~ services[web].real[10.0.1.11:80].weight: 100 -> 50
// Named things (interfaces, VRRP instances, services, real servers, users) are matched by name, not by
// position, so reordering the file is no change. Source positions are not part of the comparison.
import type { Config } from "./types.ts";

type Flat = Map<string, string>;

/** Bound on diff lines shown; a larger change is summarised. */
export const MAX_DIFF_LINES = 500;

export function diffConfigs(before: Config, after: Config): string[] {
  const a = flatten(before);
  const b = flatten(after);
  const lines: string[] = [];
  const added = new Set<string>();
  const removed = new Set<string>();
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const va = a.get(key);
    const vb = b.get(key);
    if (va === vb) continue;
    if (va === undefined) added.add(key);
    else if (vb === undefined) removed.add(key);
    else lines.push(`~ ${key}: ${va} -> ${vb}`);
  }
  // Report a whole new or removed named entry once, not each of its fields.
  lines.push(...collapse(added, a).map((k) => `+ ${k}`), ...collapse(removed, b).map((k) => `- ${k}`));
  lines.sort((x, y) => x.slice(2).localeCompare(y.slice(2)) || x.localeCompare(y));
  if (lines.length <= MAX_DIFF_LINES) return lines;
  return [...lines.slice(0, MAX_DIFF_LINES), `... and ${lines.length - MAX_DIFF_LINES} more changes`];
}

/** The shortest prefixes of `keys` that do not exist on the other side. */
function collapse(keys: Set<string>, other: Flat): string[] {
  const otherPrefixes = new Set<string>();
  for (const k of other.keys()) for (const p of prefixes(k)) otherPrefixes.add(p);
  const out = new Set<string>();
  for (const k of keys) {
    const first = prefixes(k).find((p) => !otherPrefixes.has(p)) ?? k;
    out.add(first);
  }
  return [...out];
}

function prefixes(key: string): string[] {
  const out: string[] = [];
  const re = /[.[]/g;
  for (let m = re.exec(key); m !== null; m = re.exec(key)) if (m.index > 0) out.push(key.slice(0, m.index));
  out.push(key);
  return out;
}

function flatten(config: Config): Flat {
  const out: Flat = new Map();
  walk(out, "", config);
  return out;
}

function walk(out: Flat, path: string, v: unknown): void {
  if (v instanceof Uint8Array) {
    out.set(path, Buffer.from(v).toString("base64"));
    return;
  }
  if (Array.isArray(v)) {
    for (const [i, item] of v.entries()) walk(out, `${path}[${nameOf(item) ?? i}]`, item);
    return;
  }
  if (v !== null && typeof v === "object") {
    for (const [k, child] of Object.entries(v)) {
      if (k === "pos" || k === "file") continue;
      walk(out, path === "" ? k : `${path}.${k}`, child);
    }
    return;
  }
  if (v !== undefined) out.set(path, JSON.stringify(v));
}

/** How an array element is known across edits: its name, or a real server's address:port. */
function nameOf(item: unknown): string | undefined {
  if (item === null || typeof item !== "object") return undefined;
  const o = item as Record<string, unknown>;
  if (typeof o["name"] === "string") return o["name"];
  if (typeof o["address"] === "string" && typeof o["port"] === "number") {
    return o["address"].includes(":") ? `[${o["address"]}]:${o["port"]}` : `${o["address"]}:${o["port"]}`;
  }
  return undefined;
}

// Value readers: turn the untyped values smol-toml produced into typed values, or record an error
// that points at the offending key or value and says what is allowed. Readers never throw; a value
// that fails yields undefined so validation continues and every problem is reported in one run.

import { type ConfigError, didYouMean } from "./errors.ts";
import { type Cidr, formatIp, type IpAddr, parseCidr, parseIp } from "./net.ts";
import { formatPath, type KeyPath, type PathSeg } from "./path.ts";
import type { Pos, PositionIndex } from "./positions.ts";
import type { SourcePos } from "./types.ts";

export type RawTable = Record<string, unknown>;

export function isTable(v: unknown): v is RawTable {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) && !isTomlDate(v);
}

function isTomlDate(v: unknown): boolean {
  return typeof v === "object" && v !== null && v.constructor?.name === "TomlDate";
}

/** A short description of a value for "got ..." in messages. */
export function describe(v: unknown): string {
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === "boolean") return `boolean ${v}`;
  if (typeof v === "number") return Number.isInteger(v) ? `integer ${v}` : `float ${v}`;
  if (typeof v === "bigint") return `integer ${v}`;
  if (Array.isArray(v)) return "an array";
  if (isTomlDate(v) || v instanceof Date) return "a date";
  if (isTable(v)) return "a table";
  return typeof v;
}

/** Collects errors for one file; knows where every path sits. */
export class Ctx {
  readonly errors: ConfigError[] = [];

  constructor(
    readonly file: string,
    readonly index: PositionIndex,
  ) {}

  private push(pos: Pos | undefined, path: KeyPath, message: string): void {
    const where = pos ?? { line: 1, col: 1 };
    const prefix = path.length > 0 ? `${formatPath(path)}: ` : "";
    this.errors.push({ file: this.file, line: where.line, col: where.col, message: prefix + message });
  }

  /** A problem with the value at path. */
  valueError(path: KeyPath, message: string): void {
    this.push(this.index.valuePos(path), path, message);
  }

  /** A problem with the key itself (unknown key, key not allowed here). */
  keyError(path: KeyPath, message: string): void {
    this.push(this.index.keyPos(path), path, message);
  }

  /** A problem with a table as a whole (missing key): points at its header. */
  tableError(path: KeyPath, message: string): void {
    this.push(this.index.tablePos(path), path, message);
  }

  sourcePos(path: KeyPath): SourcePos {
    const p = this.index.tablePos(path) ?? { line: 1, col: 1 };
    return { file: this.file, line: p.line, col: p.col };
  }
}

// ---- standalone readers (for array elements and table fields alike) ----

export function readString(
  ctx: Ctx,
  path: KeyPath,
  v: unknown,
  opts: { nonEmpty?: boolean; maxLength?: number } = {},
): string | undefined {
  if (typeof v !== "string") {
    ctx.valueError(path, `expected a string, got ${describe(v)}`);
    return undefined;
  }
  if (opts.nonEmpty === true && v.length === 0) {
    ctx.valueError(path, "must not be empty");
    return undefined;
  }
  if (opts.maxLength !== undefined && v.length > opts.maxLength) {
    ctx.valueError(path, `is ${v.length} characters long; allowed: at most ${opts.maxLength}`);
    return undefined;
  }
  return v;
}

export function readInt(ctx: Ctx, path: KeyPath, v: unknown, min: number, max: number): number | undefined {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    ctx.valueError(path, `expected an integer ${min}..${max}, got ${describe(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    ctx.valueError(path, `${v} is out of range; allowed: ${min}..${max}`);
    return undefined;
  }
  return v;
}

/** A number of seconds (integer or float) within [min, max]. */
export function readSeconds(
  ctx: Ctx,
  path: KeyPath,
  v: unknown,
  min: number,
  max: number,
): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    ctx.valueError(path, `expected a number of seconds ${min}..${max}, got ${describe(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    ctx.valueError(path, `${v} is out of range; allowed: ${min}..${max} seconds`);
    return undefined;
  }
  return v;
}

export function readBool(ctx: Ctx, path: KeyPath, v: unknown): boolean | undefined {
  if (typeof v !== "boolean") {
    ctx.valueError(path, `expected true or false, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function readEnum<T extends string>(
  ctx: Ctx,
  path: KeyPath,
  v: unknown,
  allowed: readonly T[],
  noun: string,
): T | undefined {
  const list = allowed.join(", ");
  if (typeof v !== "string") {
    ctx.valueError(path, `expected a ${noun} (one of ${list}), got ${describe(v)}`);
    return undefined;
  }
  if ((allowed as readonly string[]).includes(v)) return v as T;
  ctx.valueError(path, `unknown ${noun} '${v}'; allowed: ${list}${didYouMean(v, allowed)}`);
  return undefined;
}

/** A bare IP address (no prefix), returned parsed. */
export function readIp(ctx: Ctx, path: KeyPath, v: unknown): IpAddr | undefined {
  if (typeof v !== "string") {
    ctx.valueError(path, `expected an IP address string, got ${describe(v)}`);
    return undefined;
  }
  const ip = parseIp(v);
  if (ip !== undefined) return ip;
  if (v.includes("/")) {
    ctx.valueError(path, `expected a bare IP address without a prefix, got '${v}'`);
  } else {
    ctx.valueError(path, `invalid IP address '${v}'; expected IPv4 like 10.0.0.1 or IPv6 like 2001:db8::1`);
  }
  return undefined;
}

/** Address with prefix; `allowBare` accepts a bare address as a host route (/32, /128). */
export function readCidr(ctx: Ctx, path: KeyPath, v: unknown, allowBare = false): Cidr | undefined {
  if (typeof v !== "string") {
    ctx.valueError(path, `expected a CIDR string like 10.0.0.1/24, got ${describe(v)}`);
    return undefined;
  }
  const c = parseCidr(v);
  if (c !== undefined) return c;
  if (!v.includes("/")) {
    const ip = parseIp(v);
    if (ip !== undefined) {
      if (allowBare) return { addr: ip, prefix: ip.family === 4 ? 32 : 128 };
      ctx.valueError(path, `'${v}' has no prefix length; expected a CIDR like ${formatIp(ip)}/24`);
      return undefined;
    }
  }
  ctx.valueError(
    path,
    `invalid CIDR '${v}'; expected address/prefix like 10.0.0.1/24 (prefix 0..32) or 2001:db8::1/64 (0..128)`,
  );
  return undefined;
}

/** An array of non-empty strings, not a shell command line. */
export function readArgv(ctx: Ctx, path: KeyPath, v: unknown): string[] | undefined {
  if (typeof v === "string") {
    ctx.valueError(
      path,
      `expected an argv array like ["/usr/local/bin/notify", "arg"]; a shell command string is not allowed`,
    );
    return undefined;
  }
  if (!Array.isArray(v) || v.length === 0) {
    ctx.valueError(path, `expected a non-empty argv array of strings, got ${describe(v)}`);
    return undefined;
  }
  const out: string[] = [];
  let ok = true;
  v.forEach((item, i) => {
    const s = readString(ctx, [...path, i], item, { nonEmpty: true });
    if (s === undefined) ok = false;
    else out.push(s);
  });
  if (!ok) return undefined;
  const program = out[0] ?? "";
  if (!program.startsWith("/")) {
    ctx.valueError([...path, 0], `program '${program}' must be an absolute path (no PATH lookup, no shell)`);
    return undefined;
  }
  return out;
}

/** An array; each element read by `each` (undefined results dropped, errors already recorded). */
export function readList<T>(
  ctx: Ctx,
  path: KeyPath,
  v: unknown,
  each: (itemPath: PathSeg[], item: unknown) => T | undefined,
): T[] | undefined {
  if (!Array.isArray(v)) {
    ctx.valueError(path, `expected an array, got ${describe(v)}`);
    return undefined;
  }
  const out: T[] = [];
  v.forEach((item, i) => {
    const r = each([...path, i], item);
    if (r !== undefined) out.push(r);
  });
  return out;
}

/**
 * A table being read field by field. Unknown keys are reported as soon as it is opened, with the
 * closest known key suggested; required keys missing are reported at the table's header.
 */
export class TableReader {
  constructor(
    readonly ctx: Ctx,
    readonly path: readonly PathSeg[],
    readonly raw: RawTable,
    known: readonly string[],
  ) {
    for (const key of Object.keys(raw)) {
      if (known.includes(key)) continue;
      ctx.keyError(
        [...path, key],
        `unknown key '${key}'${didYouMean(key, known)}; allowed keys here: ${known.join(", ")}`,
      );
    }
  }

  /** Open a table value (or report that the value is not a table). */
  static open(
    ctx: Ctx,
    path: readonly PathSeg[],
    v: unknown,
    known: readonly string[],
  ): TableReader | undefined {
    if (!isTable(v)) {
      ctx.valueError(path, `expected a table, got ${describe(v)}`);
      return undefined;
    }
    return new TableReader(ctx, path, v, known);
  }

  at(key: string): PathSeg[] {
    return [...this.path, key];
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  get(key: string): unknown {
    return this.raw[key];
  }

  /** Report a missing required key at the table header; returns false if missing. */
  require(key: string, hint = ""): boolean {
    if (this.has(key)) return true;
    this.ctx.tableError(this.path, `missing required key '${key}'${hint}`);
    return false;
  }

  /** Report that a key present here does not apply (with why). */
  notAllowed(key: string, why: string): void {
    if (this.has(key)) this.ctx.keyError(this.at(key), why);
  }

  string(key: string, opts: { nonEmpty?: boolean; maxLength?: number } = {}): string | undefined {
    return this.has(key) ? readString(this.ctx, this.at(key), this.get(key), opts) : undefined;
  }

  int(key: string, min: number, max: number): number | undefined {
    return this.has(key) ? readInt(this.ctx, this.at(key), this.get(key), min, max) : undefined;
  }

  seconds(key: string, min: number, max: number): number | undefined {
    return this.has(key) ? readSeconds(this.ctx, this.at(key), this.get(key), min, max) : undefined;
  }

  bool(key: string): boolean | undefined {
    return this.has(key) ? readBool(this.ctx, this.at(key), this.get(key)) : undefined;
  }

  enumOf<T extends string>(key: string, allowed: readonly T[], noun: string): T | undefined {
    return this.has(key) ? readEnum(this.ctx, this.at(key), this.get(key), allowed, noun) : undefined;
  }

  ip(key: string): IpAddr | undefined {
    return this.has(key) ? readIp(this.ctx, this.at(key), this.get(key)) : undefined;
  }

  argv(key: string): string[] | undefined {
    return this.has(key) ? readArgv(this.ctx, this.at(key), this.get(key)) : undefined;
  }

  list<T>(key: string, each: (itemPath: PathSeg[], item: unknown) => T | undefined): T[] | undefined {
    return this.has(key) ? readList(this.ctx, this.at(key), this.get(key), each) : undefined;
  }

  table(key: string, known: readonly string[]): TableReader | undefined {
    return this.has(key) ? TableReader.open(this.ctx, this.at(key), this.get(key), known) : undefined;
  }

  /** Each key of a table of named entries ([services.NAME], [interfaces.NAME]). */
  entries(key: string): Array<[string, unknown, PathSeg[]]> {
    if (!this.has(key)) return [];
    const v = this.get(key);
    if (!isTable(v)) {
      this.ctx.valueError(this.at(key), `expected a table of named entries, got ${describe(v)}`);
      return [];
    }
    return Object.entries(v).map(([name, value]) => [name, value, [...this.path, key, name]]);
  }
}

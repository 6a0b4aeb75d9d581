// Netlink attributes (struct nlattr TLVs): a bounded writer, a strict parser, and a schema-driven
// decoder/encoder for typed values. Every malformed input becomes a NetlinkDecodeError.
import { LIMITS, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from "./constants.ts";
import { NetlinkDecodeError, NetlinkEncodeError } from "./errors.ts";

export const align4 = (n: number): number => (n + 3) & ~3;
const MAX_ATTR_BYTES = 0xffff;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// ---------------------------------------------------------------------------------------------------
// Writer

/** Growable, bounded byte builder for netlink payloads: fixed headers, attributes, nests. */
export class NlWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  private readonly openNests: number[] = [];

  constructor(
    initialBytes = 256,
    private readonly maxBytes: number = LIMITS.maxMessageBytes,
  ) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): number {
    const at = this.len;
    const need = at + n;
    if (need > this.maxBytes) throw new NetlinkEncodeError(`payload exceeds ${this.maxBytes} bytes`);
    if (need > this.buf.byteLength) {
      const next = new Uint8Array(Math.min(this.maxBytes, Math.max(need, this.buf.byteLength * 2)));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.len = need;
    return at;
  }

  private pad(): void {
    const padded = align4(this.len);
    if (padded > this.len) this.reserve(padded - this.len);
  }

  /** Appends raw bytes (a family header such as ifinfomsg) and pads to 4 bytes. */
  raw(bytes: Uint8Array): this {
    const at = this.reserve(bytes.byteLength);
    this.buf.set(bytes, at);
    this.pad();
    return this;
  }

  attr(type: number, data: Uint8Array, flags = 0): this {
    checkAttrType(type);
    const total = NLA_HDRLEN + data.byteLength;
    if (total > MAX_ATTR_BYTES)
      throw new NetlinkEncodeError(`attribute ${type} too long: ${data.byteLength}`);
    const at = this.reserve(total);
    this.view.setUint16(at, total, true);
    this.view.setUint16(at + 2, type | flags, true);
    this.buf.set(data, at + NLA_HDRLEN);
    this.pad();
    return this;
  }

  /** Writes header and value straight into the buffer: no per-attribute allocation (a hot path for IPVS). */
  private int(
    type: number,
    size: 1 | 2 | 4 | 8,
    signed: boolean,
    big: boolean,
    v: number | bigint,
    flags = 0,
  ) {
    checkAttrType(type);
    const at = this.reserve(NLA_HDRLEN + size);
    this.view.setUint16(at, NLA_HDRLEN + size, true);
    this.view.setUint16(at + 2, type | flags, true);
    writeInt(this.view, at + NLA_HDRLEN, size, signed, big, v, type);
    this.pad();
    return this;
  }

  u8(type: number, v: number): this {
    return this.int(type, 1, false, false, v);
  }
  u16(type: number, v: number): this {
    return this.int(type, 2, false, false, v);
  }
  u32(type: number, v: number): this {
    return this.int(type, 4, false, false, v);
  }
  u64(type: number, v: bigint | number): this {
    return this.int(type, 8, false, false, v);
  }
  s8(type: number, v: number): this {
    return this.int(type, 1, true, false, v);
  }
  s16(type: number, v: number): this {
    return this.int(type, 2, true, false, v);
  }
  s32(type: number, v: number): this {
    return this.int(type, 4, true, false, v);
  }
  s64(type: number, v: bigint | number): this {
    return this.int(type, 8, true, false, v);
  }
  /** Network byte order; netOrderFlag also sets NLA_F_NET_BYTEORDER in the header. */
  be16(type: number, v: number, netOrderFlag = false): this {
    return this.int(type, 2, false, true, v, netOrderFlag ? NLA_F_NET_BYTEORDER : 0);
  }
  be32(type: number, v: number, netOrderFlag = false): this {
    return this.int(type, 4, false, true, v, netOrderFlag ? NLA_F_NET_BYTEORDER : 0);
  }
  be64(type: number, v: bigint | number, netOrderFlag = false): this {
    return this.int(type, 8, false, true, v, netOrderFlag ? NLA_F_NET_BYTEORDER : 0);
  }
  /** NUL-terminated string (what the kernel expects for names). */
  str(type: number, s: string): this {
    const b = encoder.encode(s);
    if (b.includes(0)) throw new NetlinkEncodeError(`attribute ${type}: string contains NUL`);
    const data = new Uint8Array(b.byteLength + 1);
    data.set(b);
    return this.attr(type, data);
  }
  flag(type: number): this {
    return this.attr(type, new Uint8Array(0));
  }

  beginNest(type: number): number {
    checkAttrType(type);
    if (this.openNests.length >= LIMITS.maxNestingDepth) throw new NetlinkEncodeError("nesting too deep");
    const at = this.reserve(NLA_HDRLEN);
    this.view.setUint16(at + 2, type | NLA_F_NESTED, true);
    this.openNests.push(at);
    return at;
  }

  endNest(token: number): this {
    const at = this.openNests.pop();
    if (at !== token) throw new NetlinkEncodeError("endNest does not match the innermost beginNest");
    const total = this.len - at;
    if (total > MAX_ATTR_BYTES) throw new NetlinkEncodeError(`nested attribute too long: ${total}`);
    this.view.setUint16(at, total, true);
    return this;
  }

  nest(type: number, body: (w: this) => void): this {
    const t = this.beginNest(type);
    body(this);
    return this.endNest(t);
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    if (this.openNests.length > 0) throw new NetlinkEncodeError("unclosed nested attribute");
    return this.buf.slice(0, this.len);
  }
}

function checkAttrType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > NLA_TYPE_MASK) {
    throw new NetlinkEncodeError(`bad attribute type ${type}`);
  }
}

/** Inclusive ranges by size in bytes (index 1, 2, 4), unsigned and signed. */
const UNSIGNED_MAX = [0, 0xff, 0xffff, 0, 0xffffffff] as const;
const SIGNED_MIN = [0, -0x80, -0x8000, 0, -0x80000000] as const;
const SIGNED_MAX = [0, 0x7f, 0x7fff, 0, 0x7fffffff] as const;

function writeInt(
  v: DataView,
  at: number,
  size: number,
  signed: boolean,
  big: boolean,
  value: number | bigint,
  type: number,
) {
  const le = !big;
  if (size === 8) {
    const b = typeof value === "bigint" ? value : Number.isSafeInteger(value) ? BigInt(value) : null;
    const lo = signed ? -(1n << 63n) : 0n;
    const hi = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
    if (b === null || b < lo || b > hi)
      throw new NetlinkEncodeError(`attribute ${type}: ${value} out of range`);
    if (signed) v.setBigInt64(at, b, le);
    else v.setBigUint64(at, b, le);
    return;
  }
  const n = typeof value === "bigint" ? Number(value) : value;
  const min = signed ? SIGNED_MIN[size]! : 0;
  const max = signed ? SIGNED_MAX[size]! : UNSIGNED_MAX[size]!;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new NetlinkEncodeError(`attribute ${type}: ${value} out of range`);
  }
  if (size === 1) signed ? v.setInt8(at, n) : v.setUint8(at, n);
  else if (size === 2) signed ? v.setInt16(at, n, le) : v.setUint16(at, n, le);
  else signed ? v.setInt32(at, n, le) : v.setUint32(at, n, le);
}

// ---------------------------------------------------------------------------------------------------
// Parser

export interface RawAttr {
  readonly type: number;
  readonly nested: boolean;
  readonly netByteOrder: boolean;
  /** Payload without header and padding. */
  readonly data: Uint8Array;
  /** Offset of the attribute header, relative to the outermost buffer handed to the decoder. */
  readonly offset: number;
}

/**
 * Splits bytes into attributes. baseOffset places error offsets in the caller's frame.
 * Trailing bytes shorter than a header are an error (the kernel never sends them).
 */
export function parseAttrs(bytes: Uint8Array, baseOffset = 0): RawAttr[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawAttr[] = [];
  let off = 0;
  while (off < bytes.byteLength) {
    if (out.length >= LIMITS.maxAttrsPerLevel) {
      throw new NetlinkDecodeError(baseOffset + off, `more than ${LIMITS.maxAttrsPerLevel} attributes`);
    }
    if (off + NLA_HDRLEN > bytes.byteLength) {
      throw new NetlinkDecodeError(baseOffset + off, "truncated attribute header");
    }
    const len = view.getUint16(off, true);
    const rawType = view.getUint16(off + 2, true);
    if (len < NLA_HDRLEN) throw new NetlinkDecodeError(baseOffset + off, `attribute length ${len} < 4`);
    if (off + len > bytes.byteLength) {
      throw new NetlinkDecodeError(
        baseOffset + off,
        `attribute length ${len} overruns ${bytes.byteLength - off}`,
      );
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      data: bytes.subarray(off + NLA_HDRLEN, off + len),
      offset: baseOffset + off,
    });
    // The last attribute may omit its padding.
    off = Math.min(bytes.byteLength, off + align4(len));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Typed scalar readers (exact sizes; a wrong size is a decode error)

export function attrView(a: RawAttr): DataView {
  return new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

function needSize(a: RawAttr, size: number): DataView {
  if (a.data.byteLength !== size) {
    throw new NetlinkDecodeError(
      a.offset,
      `attribute ${a.type}: expected ${size} bytes, got ${a.data.byteLength}`,
    );
  }
  return attrView(a);
}

export function readU8(a: RawAttr): number {
  return needSize(a, 1).getUint8(0);
}
export function readU16(a: RawAttr): number {
  return needSize(a, 2).getUint16(0, !a.netByteOrder);
}
export function readU32(a: RawAttr): number {
  return needSize(a, 4).getUint32(0, !a.netByteOrder);
}
export function readU64(a: RawAttr): bigint {
  return needSize(a, 8).getBigUint64(0, !a.netByteOrder);
}
export function readS8(a: RawAttr): number {
  return needSize(a, 1).getInt8(0);
}
export function readS16(a: RawAttr): number {
  return needSize(a, 2).getInt16(0, !a.netByteOrder);
}
export function readS32(a: RawAttr): number {
  return needSize(a, 4).getInt32(0, !a.netByteOrder);
}
export function readS64(a: RawAttr): bigint {
  return needSize(a, 8).getBigInt64(0, !a.netByteOrder);
}
export function readBe16(a: RawAttr): number {
  return needSize(a, 2).getUint16(0, false);
}
export function readBe32(a: RawAttr): number {
  return needSize(a, 4).getUint32(0, false);
}
export function readBe64(a: RawAttr): bigint {
  return needSize(a, 8).getBigUint64(0, false);
}

/** A string that may or may not carry a trailing NUL (NLA_STRING); stops at the first NUL. */
export function readString(a: RawAttr): string {
  const end = a.data.indexOf(0);
  return utf8(a, end < 0 ? a.data : a.data.subarray(0, end));
}

/** A string that must end in NUL (NLA_NUL_STRING). */
export function readNulString(a: RawAttr): string {
  const end = a.data.indexOf(0);
  if (end < 0) throw new NetlinkDecodeError(a.offset, `attribute ${a.type}: string not NUL-terminated`);
  return utf8(a, a.data.subarray(0, end));
}

function utf8(a: RawAttr, bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new NetlinkDecodeError(a.offset, `attribute ${a.type}: invalid UTF-8`);
  }
}

export function readFlag(a: RawAttr): true {
  needSize(a, 0);
  return true;
}

/** The attributes inside a nested attribute (the NLA_F_NESTED bit is not required: old kernels omit it). */
export function readNested(a: RawAttr): RawAttr[] {
  return parseAttrs(a.data, a.offset + NLA_HDRLEN);
}

// ---------------------------------------------------------------------------------------------------
// Schema-driven decode/encode

export type AttrKind =
  | "u8"
  | "u16"
  | "u32"
  | "u64"
  | "s8"
  | "s16"
  | "s32"
  | "s64"
  | "be16"
  | "be32"
  | "be64"
  | "string"
  | "nulstring"
  | "binary"
  | "flag"
  | "nested";

export interface AttrSpec {
  readonly type: number;
  readonly kind: AttrKind;
  /** For kind "nested": the schema of the inner attributes. */
  readonly nested?: AttrSchema;
  /** For be16/be32/be64: also set NLA_F_NET_BYTEORDER when encoding. */
  readonly netOrderFlag?: boolean;
  /** For string/binary: the longest accepted payload. */
  readonly maxBytes?: number;
}

export type AttrSchema = { readonly [name: string]: AttrSpec };

type ScalarOf<K extends AttrKind> = K extends "u64" | "s64" | "be64"
  ? bigint
  : K extends "string" | "nulstring"
    ? string
    : K extends "binary"
      ? Uint8Array
      : K extends "flag"
        ? true
        : number;

export type ValueOf<S extends AttrSpec> = S extends { readonly kind: "nested"; readonly nested: infer N }
  ? N extends AttrSchema
    ? Decoded<N>
    : never
  : ScalarOf<S["kind"]>;

/** Decoded attributes: every field optional (the kernel may omit any of them). */
export type Decoded<S extends AttrSchema> = { -readonly [K in keyof S]?: ValueOf<S[K]> };

/** Decodes attributes by schema. Unknown types are skipped (newer kernels add attributes). */
export function decodeAttrs<S extends AttrSchema>(schema: S, bytes: Uint8Array, baseOffset = 0): Decoded<S> {
  return decodeLevel(schema, parseAttrs(bytes, baseOffset), 0) as Decoded<S>;
}

function decodeLevel(schema: AttrSchema, attrs: readonly RawAttr[], depth: number): Record<string, unknown> {
  if (depth > LIMITS.maxNestingDepth) {
    throw new NetlinkDecodeError(attrs[0]?.offset ?? 0, `nesting deeper than ${LIMITS.maxNestingDepth}`);
  }
  const byType = specsByType(schema);
  const out: Record<string, unknown> = {};
  for (const a of attrs) {
    const entry = byType.get(a.type);
    if (!entry) continue;
    const [name, spec] = entry;
    out[name] = decodeValue(spec, a, depth);
  }
  return out;
}

function decodeValue(spec: AttrSpec, a: RawAttr, depth: number): unknown {
  if (spec.maxBytes !== undefined && a.data.byteLength > spec.maxBytes) {
    throw new NetlinkDecodeError(
      a.offset,
      `attribute ${a.type}: ${a.data.byteLength} bytes > ${spec.maxBytes}`,
    );
  }
  switch (spec.kind) {
    case "u8":
      return readU8(a);
    case "u16":
      return readU16(a);
    case "u32":
      return readU32(a);
    case "u64":
      return readU64(a);
    case "s8":
      return readS8(a);
    case "s16":
      return readS16(a);
    case "s32":
      return readS32(a);
    case "s64":
      return readS64(a);
    case "be16":
      return readBe16(a);
    case "be32":
      return readBe32(a);
    case "be64":
      return readBe64(a);
    case "string":
      return readString(a);
    case "nulstring":
      return readNulString(a);
    case "binary":
      return a.data.slice();
    case "flag":
      return readFlag(a);
    case "nested":
      if (!spec.nested)
        throw new NetlinkDecodeError(a.offset, `attribute ${a.type}: nested spec without schema`);
      return decodeLevel(spec.nested, readNested(a), depth + 1);
  }
}

const entriesCache = new WeakMap<AttrSchema, readonly (readonly [string, AttrSpec])[]>();
function schemaEntries(schema: AttrSchema): readonly (readonly [string, AttrSpec])[] {
  let e = entriesCache.get(schema);
  if (!e) {
    e = Object.entries(schema);
    entriesCache.set(schema, e);
  }
  return e;
}

const specCache = new WeakMap<AttrSchema, Map<number, [string, AttrSpec]>>();
function specsByType(schema: AttrSchema): Map<number, [string, AttrSpec]> {
  let m = specCache.get(schema);
  if (!m) {
    m = new Map();
    for (const [name, spec] of Object.entries(schema)) m.set(spec.type, [name, spec]);
    specCache.set(schema, m);
  }
  return m;
}

/** Encodes the defined fields of values, in schema order. */
export function encodeAttrs<S extends AttrSchema>(
  w: NlWriter,
  schema: S,
  values: Decoded<S>,
  depth = 0,
): NlWriter {
  if (depth > LIMITS.maxNestingDepth) throw new NetlinkEncodeError("nesting too deep");
  const vals = values as Record<string, unknown>;
  for (const [name, spec] of schemaEntries(schema)) {
    const v = vals[name];
    if (v === undefined) continue;
    encodeValue(w, spec, v, name, depth);
  }
  return w;
}

function encodeValue(w: NlWriter, spec: AttrSpec, v: unknown, name: string, depth: number): void {
  const t = spec.type;
  const num = (): number => {
    if (typeof v !== "number") throw new NetlinkEncodeError(`${name}: expected a number`);
    return v;
  };
  const big = (): bigint | number => {
    if (typeof v !== "bigint" && typeof v !== "number")
      throw new NetlinkEncodeError(`${name}: expected a bigint`);
    return v;
  };
  const flag = spec.netOrderFlag === true;
  switch (spec.kind) {
    case "u8":
      w.u8(t, num());
      return;
    case "u16":
      w.u16(t, num());
      return;
    case "u32":
      w.u32(t, num());
      return;
    case "u64":
      w.u64(t, big());
      return;
    case "s8":
      w.s8(t, num());
      return;
    case "s16":
      w.s16(t, num());
      return;
    case "s32":
      w.s32(t, num());
      return;
    case "s64":
      w.s64(t, big());
      return;
    case "be16":
      w.be16(t, num(), flag);
      return;
    case "be32":
      w.be32(t, num(), flag);
      return;
    case "be64":
      w.be64(t, big(), flag);
      return;
    case "string":
    case "nulstring":
      if (typeof v !== "string") throw new NetlinkEncodeError(`${name}: expected a string`);
      w.str(t, v);
      return;
    case "binary":
      if (!(v instanceof Uint8Array)) throw new NetlinkEncodeError(`${name}: expected bytes`);
      w.attr(t, v);
      return;
    case "flag":
      if (v !== true) throw new NetlinkEncodeError(`${name}: flag must be true or absent`);
      w.flag(t);
      return;
    case "nested": {
      const inner = spec.nested;
      if (!inner || typeof v !== "object" || v === null)
        throw new NetlinkEncodeError(`${name}: expected an object`);
      const tok = w.beginNest(t);
      encodeAttrs(w, inner, v as Decoded<AttrSchema>, depth + 1);
      w.endNest(tok);
      return;
    }
  }
}

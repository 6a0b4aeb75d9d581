// The update artifact's manifest and its framing. An artifact is one file the box can stream:
//
//   "FULCRUM-UPDATE1\n" (16 bytes) | u32 BE manifest length | manifest (UTF-8 JSON)
//   | signer's Ed25519 public key (32 bytes) | Ed25519 signature over the manifest bytes (64 bytes)
//   | payload 1 chunks | payload 2 chunks ...   in manifest order
//
// Format 2: every payload is cut into `chunkSize` raw bytes (the last chunk shorter), each chunk
// compressed on its own as one zstd frame (content size and checksum in the frame) and listed in the
// manifest with its compressed size and SHA-256. Chunks are independent, so the box checks,
// decompresses and writes them on all its cores, each at its own offset. The header (everything
// before the payloads) is at most MAX_HEADER_BYTES, so the box reads and verifies it in memory before
// it writes anything. Pure: no I/O here.

import { isVersion } from "./version.ts";

export const MAGIC = new TextEncoder().encode("FULCRUM-UPDATE1\n");
/** ~80 bytes a chunk: 1 MiB lists ~12,000 chunks (96 GiB in 8 MiB chunks). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MAX_HEADER_BYTES = MAGIC.length + 4 + MAX_MANIFEST_BYTES + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
export const MANIFEST_FORMAT = 2;
export const PRODUCT = "fulcrum";
/** Payload names, in the order they appear in the artifact. */
export const PAYLOAD_NAMES = ["root", "uki"] as const;
export type PayloadName = (typeof PAYLOAD_NAMES)[number];
/** A UKI is ~22 MiB; anything far larger is not one. */
export const MAX_UKI_BYTES = 128 * 1024 * 1024;
/** The root slot: bounded again by the real slot's size on the box. */
export const MAX_ROOT_BYTES = 16 * 1024 * 1024 * 1024;
/** Raw bytes a chunk: small enough to keep a few in memory per core, large enough to compress well. */
export const MIN_CHUNK_BYTES = 64 * 1024;
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** zstd's worst case for incompressible input is a little above the input; anything more is not zstd. */
export const chunkBound = (raw: number): number => raw + (raw >> 7) + 1024;

/** One zstd frame in the artifact: its compressed size and SHA-256 (hex). */
export interface ChunkEntry {
  readonly size: number;
  readonly sha256: string;
}

export interface PayloadEntry {
  readonly name: PayloadName;
  /**
   * Bytes written to the slot / the ESP, and their SHA-256 (hex). The box does not recompute the
   * SHA-256 (every chunk's compressed bytes are checked against their signed hash instead); it says
   * what the slot holds afterwards, for an operator's `sha256sum`.
   */
  readonly size: number;
  readonly sha256: string;
  /** Raw bytes per chunk; chunk i holds raw bytes [i * chunkSize, min(size, (i + 1) * chunkSize)). */
  readonly chunkSize: number;
  readonly chunks: readonly ChunkEntry[];
}

export interface Manifest {
  readonly format: number;
  readonly product: string;
  readonly version: string;
  readonly build: string;
  /** The oldest running version this update may replace (older boxes need an intermediate release). */
  readonly minVersion: string;
  readonly createdAt: string;
  readonly payloads: readonly PayloadEntry[];
}

export interface Header {
  readonly manifest: Manifest;
  readonly manifestBytes: Uint8Array;
  readonly signer: Uint8Array;
  readonly signature: Uint8Array;
  /** Bytes from the start of the artifact to the first payload. */
  readonly length: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isSize(n: unknown, max: number): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 && n <= max;
}

/** Validates the manifest's shape and bounds; returns the manifest or why it is not one. Pure. */
export function parseManifest(bytes: Uint8Array): Manifest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    return `manifest is not JSON: ${String(err)}`;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "manifest is not a JSON object";
  const o = raw as Record<string, unknown>;
  if (o["format"] === 1)
    return `artifact format 1 (one zstd stream per payload) is no longer supported; repack the release with this version's packer (format ${MANIFEST_FORMAT}, chunked)`;
  if (o["format"] !== MANIFEST_FORMAT)
    return `manifest format ${String(o["format"])} is not supported (expected ${MANIFEST_FORMAT})`;
  for (const k of ["product", "version", "build", "minVersion", "createdAt"]) {
    if (typeof o[k] !== "string" || (o[k] as string).length > 200)
      return `manifest field ${k} is missing or not a short string`;
  }
  const version = o["version"] as string;
  const minVersion = o["minVersion"] as string;
  if (!isVersion(version)) return `manifest version '${version}' is not a dotted number`;
  if (!isVersion(minVersion)) return `manifest minVersion '${minVersion}' is not a dotted number`;
  const list = o["payloads"];
  if (!Array.isArray(list) || list.length !== PAYLOAD_NAMES.length)
    return `manifest must list the payloads ${PAYLOAD_NAMES.join(", ")}`;
  const payloads: PayloadEntry[] = [];
  for (const [i, p] of list.entries()) {
    const name = PAYLOAD_NAMES[i];
    if (typeof p !== "object" || p === null) return `payload ${i} is not an object`;
    const e = p as Record<string, unknown>;
    if (e["name"] !== name) return `payload ${i} must be '${name}'`;
    const max = name === "uki" ? MAX_UKI_BYTES : MAX_ROOT_BYTES;
    if (!isSize(e["size"], max)) return `payload ${name}: size missing or above ${max} bytes`;
    if (typeof e["sha256"] !== "string" || !HEX64.test(e["sha256"]))
      return `payload ${name}: sha256 is not 64 hex digits`;
    const size = e["size"] as number;
    const chunkSize = e["chunkSize"];
    if (!isSize(chunkSize, MAX_CHUNK_BYTES) || chunkSize < MIN_CHUNK_BYTES)
      return `payload ${name}: chunkSize missing or outside ${MIN_CHUNK_BYTES}..${MAX_CHUNK_BYTES} bytes`;
    const chunks = parseChunks(e["chunks"], size, chunkSize);
    if (typeof chunks === "string") return `payload ${name}: ${chunks}`;
    payloads.push({ name: name as PayloadName, size, sha256: e["sha256"], chunkSize, chunks });
  }
  return {
    format: MANIFEST_FORMAT,
    product: o["product"] as string,
    version,
    build: o["build"] as string,
    minVersion,
    createdAt: o["createdAt"] as string,
    payloads,
  };
}

/** Raw bytes of chunk `i` of a payload. Pure. */
export function rawChunkBytes(size: number, chunkSize: number, i: number): number {
  return Math.min(chunkSize, size - i * chunkSize);
}

function parseChunks(list: unknown, size: number, chunkSize: number): ChunkEntry[] | string {
  const count = Math.ceil(size / chunkSize);
  if (!Array.isArray(list)) return "chunks is not a list";
  if (list.length !== count)
    return `lists ${list.length} chunks; ${size} bytes in chunks of ${chunkSize} make ${count}`;
  const chunks: ChunkEntry[] = [];
  for (const [i, c] of list.entries()) {
    if (typeof c !== "object" || c === null) return `chunk ${i} is not an object`;
    const e = c as Record<string, unknown>;
    const bound = chunkBound(rawChunkBytes(size, chunkSize, i));
    if (!isSize(e["size"], bound)) return `chunk ${i}: compressed size missing or above ${bound} bytes`;
    if (typeof e["sha256"] !== "string" || !HEX64.test(e["sha256"]))
      return `chunk ${i}: sha256 is not 64 hex digits`;
    chunks.push({ size: e["size"], sha256: e["sha256"] });
  }
  return chunks;
}

/** Compressed bytes of a payload in the artifact. Pure. */
export function compressedBytes(p: PayloadEntry): number {
  return p.chunks.reduce((n, c) => n + c.size, 0);
}

export type HeaderParse =
  | { readonly kind: "need-more"; readonly atLeast: number }
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "header"; readonly header: Header };

/** Parses the header from the first bytes of an artifact (as many as have arrived). Pure. */
export function parseHeader(bytes: Uint8Array): HeaderParse {
  const fixed = MAGIC.length + 4;
  if (bytes.length < fixed) return { kind: "need-more", atLeast: fixed };
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i])
      return { kind: "invalid", reason: "not a fulcrum update artifact (bad magic)" };
  }
  const manifestLength = new DataView(bytes.buffer, bytes.byteOffset + MAGIC.length, 4).getUint32(0);
  if (manifestLength === 0 || manifestLength > MAX_MANIFEST_BYTES)
    return {
      kind: "invalid",
      reason: `manifest length ${manifestLength} is outside 1..${MAX_MANIFEST_BYTES}`,
    };
  const length = fixed + manifestLength + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
  if (bytes.length < length) return { kind: "need-more", atLeast: length };
  const manifestBytes = bytes.slice(fixed, fixed + manifestLength);
  const manifest = parseManifest(manifestBytes);
  if (typeof manifest === "string") return { kind: "invalid", reason: manifest };
  const keyAt = fixed + manifestLength;
  return {
    kind: "header",
    header: {
      manifest,
      manifestBytes,
      signer: bytes.slice(keyAt, keyAt + PUBLIC_KEY_BYTES),
      signature: bytes.slice(keyAt + PUBLIC_KEY_BYTES, length),
      length,
    },
  };
}

/** The header bytes for a manifest and its signature (the packer's side). Pure. */
export function encodeHeader(
  manifestBytes: Uint8Array,
  signer: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  if (manifestBytes.length > MAX_MANIFEST_BYTES) throw new Error("manifest too large");
  if (signer.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES)
    throw new Error("bad key or signature length");
  const out = new Uint8Array(MAGIC.length + 4 + manifestBytes.length + PUBLIC_KEY_BYTES + SIGNATURE_BYTES);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, manifestBytes.length);
  out.set(manifestBytes, MAGIC.length + 4);
  out.set(signer, MAGIC.length + 4 + manifestBytes.length);
  out.set(signature, MAGIC.length + 4 + manifestBytes.length + PUBLIC_KEY_BYTES);
  return out;
}

/** Total artifact size the manifest promises. Pure. */
export function artifactBytes(h: Header): number {
  return h.length + h.manifest.payloads.reduce((n, p) => n + compressedBytes(p), 0);
}

/** A chunk and where it is: in the artifact (compressed) and in its payload (raw). */
export interface ChunkRef {
  readonly payload: PayloadName;
  readonly index: number;
  /** Offset of its compressed bytes from the start of the artifact, and their signed size and SHA-256. */
  readonly at: number;
  readonly size: number;
  readonly sha256: string;
  /** Offset and length of its raw bytes within the payload. */
  readonly rawAt: number;
  readonly rawSize: number;
}

/** Every chunk of every payload, in artifact order. Pure. */
export function chunkRefs(h: Header): ChunkRef[] {
  const out: ChunkRef[] = [];
  let at = h.length;
  for (const p of h.manifest.payloads) {
    for (const [index, c] of p.chunks.entries()) {
      out.push({
        payload: p.name,
        index,
        at,
        size: c.size,
        sha256: c.sha256,
        rawAt: index * p.chunkSize,
        rawSize: rawChunkBytes(p.size, p.chunkSize, index),
      });
      at += c.size;
    }
  }
  return out;
}

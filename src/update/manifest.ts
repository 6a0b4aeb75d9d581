// The update artifact's manifest and its framing. An artifact is one file the box can stream:
//
//   "FULCRUM-UPDATE1\n" (16 bytes) | u32 BE manifest length | manifest (UTF-8 JSON)
//   | signer's Ed25519 public key (32 bytes) | Ed25519 signature over the manifest bytes (64 bytes)
//   | payload 1 (zstd) | payload 2 (zstd) ...   in manifest order, each exactly `compressed.size` bytes
//
// The header (everything before the payloads) is at most MAX_HEADER_BYTES, so the box reads and
// verifies it in memory before it writes anything; the payloads are then checked against the
// signed sizes and SHA-256 hashes. Pure: no I/O here.

import { isVersion } from "./version.ts";

export const MAGIC = new TextEncoder().encode("FULCRUM-UPDATE1\n");
export const MAX_MANIFEST_BYTES = 64 * 1024;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MAX_HEADER_BYTES = MAGIC.length + 4 + MAX_MANIFEST_BYTES + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
export const MANIFEST_FORMAT = 1;
export const PRODUCT = "fulcrum";
/** Payload names, in the order they appear in the artifact. */
export const PAYLOAD_NAMES = ["root", "uki"] as const;
export type PayloadName = (typeof PAYLOAD_NAMES)[number];
/** A UKI is ~22 MiB; anything far larger is not one. */
export const MAX_UKI_BYTES = 128 * 1024 * 1024;
/** The root slot: bounded again by the real slot's size on the box. */
export const MAX_ROOT_BYTES = 16 * 1024 * 1024 * 1024;

export interface PayloadEntry {
  readonly name: PayloadName;
  /** Bytes written to the slot / the ESP, and their SHA-256 (hex). */
  readonly size: number;
  readonly sha256: string;
  /** The zstd stream in the artifact, and its SHA-256 (hex). */
  readonly compressed: { readonly size: number; readonly sha256: string };
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
    const c = e["compressed"] as Record<string, unknown> | undefined;
    // zstd never expands data by more than a small frame overhead.
    if (typeof c !== "object" || c === null || !isSize(c["size"], (e["size"] as number) + 1024 * 1024))
      return `payload ${name}: compressed size missing or larger than the payload`;
    if (typeof c["sha256"] !== "string" || !HEX64.test(c["sha256"]))
      return `payload ${name}: compressed sha256 is not 64 hex digits`;
    payloads.push({
      name: name as PayloadName,
      size: e["size"] as number,
      sha256: e["sha256"],
      compressed: { size: c["size"] as number, sha256: c["sha256"] },
    });
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
  return h.length + h.manifest.payloads.reduce((n, p) => n + p.compressed.size, 0);
}

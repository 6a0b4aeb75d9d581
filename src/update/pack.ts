// Making an update artifact from a built image (the build host's side; see docs/update.md):
// cuts the root slot image and the UKI into chunks, zstd-compresses each, lists them in the manifest
// and signs it with Ed25519.
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { open } from "node:fs/promises";
import { compressChunk, sha256Hex } from "./chunk.ts";
import { encodeHeader, MANIFEST_FORMAT, type Manifest, type PayloadEntry, PRODUCT } from "./manifest.ts";

export interface PackInput {
  readonly root: Uint8Array;
  readonly uki: Uint8Array;
  readonly version: string;
  readonly build: string;
  readonly minVersion: string;
  /** PKCS#8 PEM of an Ed25519 private key. */
  readonly privateKeyPem: string;
  readonly level?: number;
  readonly product?: string;
  /** Raw bytes per chunk (default DEFAULT_CHUNK_BYTES). */
  readonly chunkSize?: number;
  /** The root already compressed by compressPayload (it takes seconds; several test releases share one). */
  readonly compressedRoot?: readonly Uint8Array[];
}

/**
 * 4 MiB: 100 chunks for the 400 MiB root, so two cores stay busy to the end and each holds little at
 * once; the lab root compresses to 112.6 MiB (8 MiB chunks: 112.0, 16 MiB: 111.8) and applies ~5%
 * faster than with 8 MiB chunks on this host.
 */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
export const DEFAULT_LEVEL = 6;

/** A payload cut into chunkSize pieces, each compressed as its own zstd frame. */
export function compressPayload(raw: Uint8Array, chunkSize: number, level: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < raw.length; at += chunkSize)
    out.push(compressChunk(raw.subarray(at, at + chunkSize), level));
  return out;
}

/** The 32 raw bytes of the public half of an Ed25519 private key (PEM). */
export function publicKeyOf(privateKeyPem: string): Uint8Array {
  const spki = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Signs a manifest; returns the header bytes (tests also sign manifests they have altered). */
export function signedHeader(manifest: Manifest, privateKeyPem: string): Uint8Array {
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const signature = new Uint8Array(sign(null, manifestBytes, createPrivateKey(privateKeyPem)));
  return encodeHeader(manifestBytes, publicKeyOf(privateKeyPem), signature);
}

/** The whole artifact: header and compressed chunks, in the order they are written. */
export function packArtifact(i: PackInput): { manifest: Manifest; parts: Uint8Array[] } {
  const level = i.level ?? DEFAULT_LEVEL;
  const chunkSize = i.chunkSize ?? DEFAULT_CHUNK_BYTES;
  const root = i.compressedRoot ?? compressPayload(i.root, chunkSize, level);
  if (root.length !== Math.ceil(i.root.length / chunkSize))
    throw new Error("compressedRoot was cut with another chunk size");
  const uki = compressPayload(i.uki, chunkSize, level);
  const entry = (name: "root" | "uki", raw: Uint8Array, chunks: readonly Uint8Array[]): PayloadEntry => ({
    name,
    size: raw.length,
    sha256: sha256Hex(raw),
    chunkSize,
    chunks: chunks.map((c) => ({ size: c.length, sha256: sha256Hex(c) })),
  });
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    product: i.product ?? PRODUCT,
    version: i.version,
    build: i.build,
    minVersion: i.minVersion,
    createdAt: new Date().toISOString(),
    payloads: [entry("root", i.root, root), entry("uki", i.uki, uki)],
  };
  return { manifest, parts: [signedHeader(manifest, i.privateKeyPem), ...root, ...uki] };
}

export async function writeArtifact(path: string, parts: readonly Uint8Array[]): Promise<number> {
  const fd = await open(path, "w");
  let n = 0;
  try {
    for (const p of parts) {
      await fd.write(p);
      n += p.length;
    }
    await fd.sync();
  } finally {
    await fd.close();
  }
  return n;
}

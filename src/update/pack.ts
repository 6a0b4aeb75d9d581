// Making an update artifact from a built image (the build host's side; see docs/update.md):
// zstd-compresses the root slot image and the UKI, writes the manifest, signs it with Ed25519.
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { open } from "node:fs/promises";
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
  /** The root already zstd-compressed (it takes seconds; several test releases share one). */
  readonly compressedRoot?: Uint8Array;
}

const sha256 = (b: Uint8Array): string => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** The 32 raw bytes of the public half of an Ed25519 private key (PEM). */
export function publicKeyOf(privateKeyPem: string): Uint8Array {
  const spki = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** The whole artifact: header and compressed payloads, in the order they are written. */
export function packArtifact(i: PackInput): { manifest: Manifest; parts: Uint8Array[] } {
  const level = i.level ?? 6;
  const compressed = {
    root: Bun.zstdCompressSync(i.root, { level }),
    uki: Bun.zstdCompressSync(i.uki, { level }),
  };
  const entry = (name: "root" | "uki", raw: Uint8Array, z: Uint8Array): PayloadEntry => ({
    name,
    size: raw.length,
    sha256: sha256(raw),
    compressed: { size: z.length, sha256: sha256(z) },
  });
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    product: i.product ?? PRODUCT,
    version: i.version,
    build: i.build,
    minVersion: i.minVersion,
    createdAt: new Date().toISOString(),
    payloads: [entry("root", i.root, compressed.root), entry("uki", i.uki, compressed.uki)],
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const key = createPrivateKey(i.privateKeyPem);
  const signature = new Uint8Array(sign(null, manifestBytes, key));
  const header = encodeHeader(manifestBytes, publicKeyOf(i.privateKeyPem), signature);
  return { manifest, parts: [header, compressed.root, compressed.uki] };
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

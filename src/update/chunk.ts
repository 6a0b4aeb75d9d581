// One chunk of a payload: a single zstd frame that names its content size and carries zstd's content
// checksum. Compressing (the packer) and checking + decompressing (the box's workers). No I/O here.
import { constants, zstdCompressSync } from "node:zlib";
import type { ChunkRef } from "./manifest.ts";

export const sha256Hex = (b: Uint8Array): string => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** A chunk's raw bytes as one zstd frame with its content size and checksum in the frame. */
export function compressChunk(raw: Uint8Array, level: number): Uint8Array {
  const z = zstdCompressSync(raw, {
    params: {
      [constants.ZSTD_c_compressionLevel]: level,
      [constants.ZSTD_c_checksumFlag]: 1,
      [constants.ZSTD_c_contentSizeFlag]: 1,
    },
  });
  return new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
}

const ZSTD_MAGIC = 0xfd2fb528;

/** The content size a zstd frame header declares, or why it is not a frame this format allows. Pure. */
export function frameContentSize(b: Uint8Array): number | string {
  if (b.length < 6) return "too short for a zstd frame";
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== ZSTD_MAGIC) return "not a zstd frame";
  const fhd = v.getUint8(4);
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  if (((fhd >> 2) & 1) === 0) return "zstd frame without a content checksum";
  if ((fhd & 3) !== 0) return "zstd frame needs a dictionary";
  const fcsBytes = [singleSegment, 2, 4, 8][fcsFlag] ?? 0;
  if (fcsBytes === 0) return "zstd frame does not declare its content size";
  const at = 5 + (singleSegment ? 0 : 1);
  if (b.length < at + fcsBytes) return "too short for a zstd frame";
  if (fcsBytes === 1) return v.getUint8(at);
  if (fcsBytes === 2) return v.getUint16(at, true) + 256;
  if (fcsBytes === 4) return v.getUint32(at, true);
  const big = v.getBigUint64(at, true);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? "zstd frame content size out of range" : Number(big);
}

/** Where a chunk is, for messages: "payload root chunk 12". */
export const chunkName = (c: ChunkRef): string => `payload ${c.payload} chunk ${c.index}`;

/** Chunk `c`'s compressed bytes hash to `got`, not to their signed SHA-256. */
export const corruptChunk = (c: ChunkRef, got: string): string =>
  `${chunkName(c)} is corrupt: SHA-256 ${got.slice(0, 16)}… is not the signed ${c.sha256.slice(0, 16)}…`;

/** Why `bytes` are not chunk `c` as signed, or undefined when they are (SHA-256 over the compressed bytes). */
export function chunkHashProblem(bytes: Uint8Array, c: ChunkRef): string | undefined {
  if (bytes.length !== c.size) return `${chunkName(c)} is ${bytes.length} bytes; the manifest says ${c.size}`;
  const got = sha256Hex(bytes);
  return got === c.sha256 ? undefined : corruptChunk(c, got);
}

/**
 * The raw bytes of chunk `c` from its compressed bytes: the signed SHA-256 first (nothing unsigned is
 * decompressed), then the frame must declare exactly the chunk's raw size (so the output buffer is
 * bounded before decompressing), then zstd checks its own content checksum, then the size again.
 * Throws an Error naming the chunk.
 */
export function decodeChunk(bytes: Uint8Array, c: ChunkRef): Uint8Array {
  const bad = chunkHashProblem(bytes, c);
  if (bad !== undefined) throw new Error(bad);
  const declared = frameContentSize(bytes);
  if (typeof declared === "string") throw new Error(`${chunkName(c)}: ${declared}`);
  if (declared !== c.rawSize)
    throw new Error(`${chunkName(c)} declares ${declared} raw bytes; the manifest says ${c.rawSize}`);
  let raw: Uint8Array;
  try {
    raw = Bun.zstdDecompressSync(bytes);
  } catch (err) {
    throw new Error(`${chunkName(c)} does not decompress: ${String(err)}`);
  }
  if (raw.length !== c.rawSize)
    throw new Error(`${chunkName(c)} decompressed to ${raw.length} bytes; the manifest says ${c.rawSize}`);
  return raw;
}

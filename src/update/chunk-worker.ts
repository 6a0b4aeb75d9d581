// A chunk worker: reads a chunk's compressed bytes from the artifact itself (the updater only sends
// offsets), checks their signed SHA-256, and for a write decompresses and pwrites them at the chunk's
// offset in the slot. The updater runs one per core, so hashing and zstd use every core.
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { startWriteback } from "../../ffi/libc.ts";
import { chunkHashProblem, chunkName, decodeChunk } from "./chunk.ts";
import type { ChunkJob, FromWorker, ToWorker } from "./chunk-protocol.ts";

declare const self: Worker;

/** Files stay open for the whole apply: the last close of a block device flushes and drops its cache. */
const open = new Map<string, number>();
function fdOf(path: string, flags: "r" | "r+"): number {
  const key = `${flags} ${path}`;
  let fd = open.get(key);
  if (fd === undefined) {
    fd = openSync(path, flags);
    open.set(key, fd);
  }
  return fd;
}

/** One reusable buffer for compressed bytes (grows to the largest chunk, at most chunkBound). */
let buffer = new Uint8Array(0);

function readChunk(job: ChunkJob): Uint8Array {
  const { chunk } = job;
  if (buffer.length < chunk.size) buffer = new Uint8Array(chunk.size);
  const fd = fdOf(job.path, "r");
  let got = 0;
  while (got < chunk.size) {
    const n = readSync(fd, buffer, got, chunk.size - got, chunk.at + got);
    if (n === 0)
      throw new Error(`${chunkName(chunk)}: ${job.path} ends inside it (changed since it was checked)`);
    got += n;
  }
  return buffer.subarray(0, chunk.size);
}

function run(job: ChunkJob): Uint8Array | undefined {
  const bytes = readChunk(job);
  if (job.op === "check") {
    const bad = chunkHashProblem(bytes, job.chunk);
    if (bad !== undefined) throw new Error(bad);
    return undefined;
  }
  const raw = decodeChunk(bytes, job.chunk);
  if (job.device === undefined) return raw;
  const fd = fdOf(job.device, "r+");
  const offset = job.offset ?? 0;
  let done = 0;
  while (done < raw.length) done += writeSync(fd, raw, done, raw.length - done, offset + done);
  // The disk starts on this chunk while the next one decompresses; the final fsync has little left.
  // Only a hint: where it is not supported, the final fsync does all the work.
  try {
    startWriteback(fd, offset, raw.length);
  } catch {}
  return undefined;
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.kind === "close") {
    for (const fd of open.values()) closeSync(fd);
    open.clear();
    self.postMessage({ kind: "closed" } satisfies FromWorker);
    return;
  }
  try {
    const raw = run(msg.job);
    // Raw bytes come back only for the UKI (a few chunks): copied, not transferred, as zstd's output
    // buffer may not own its whole ArrayBuffer.
    self.postMessage({
      kind: "done",
      id: msg.id,
      ...(raw === undefined ? {} : { raw }),
    } satisfies FromWorker);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    self.postMessage({ kind: "failed", id: msg.id, reason } satisfies FromWorker);
  }
};

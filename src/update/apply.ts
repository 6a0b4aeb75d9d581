// Applying an artifact: the I/O around the pure checks. Steps, in this order:
//   1. read the header (bounded) from the source and verify the signature and the policy — nothing is
//      written before both pass;
//   2. read every chunk's compressed bytes once, checking their signed sizes and SHA-256 — for a URL
//      they are staged on the data partition as they arrive; a local file is read in place, its chunks
//      checked on every core;
//   3. only then prepare the inactive slot (the target drops its old boot entry and label); workers
//      (one per core) read each chunk again, check its SHA-256 again (the file may have changed since
//      step 2), decompress it and write it at its offset in the slot, or hand back the UKI's; fsync;
//   4. only once every chunk is written, the target switches: label and boot entry for the new slot.
// A power cut anywhere before step 4 leaves the running slot's entry untouched and the inactive slot
// without an entry, so the box boots what it ran before.
import { open, stat, unlink } from "node:fs/promises";
import { chunkName, corruptChunk } from "./chunk.ts";
import { runChunkJobs } from "./chunk-pool.ts";
import type { ChunkJob } from "./chunk-protocol.ts";
import {
  artifactBytes,
  type ChunkRef,
  chunkRefs,
  encodeHeader,
  type Header,
  MAX_HEADER_BYTES,
  type Manifest,
  parseHeader,
} from "./manifest.ts";
import { type BoxFacts, checkPolicy } from "./policy.ts";
import { checkSignature } from "./signature.ts";

export type ApplyPhase = "downloading" | "verifying" | "writing";

export interface ApplyProgress {
  readonly phase: ApplyPhase;
  readonly bytes: number;
  readonly total: number;
  readonly startedMs: number;
}

/** Where the new release goes. The box's target is the inactive slot + ESP (src/update/box.ts). */
export interface SlotTarget {
  /** Block device (or file) the root payload is written to, and its size. */
  readonly device: string;
  readonly bytes: number;
  /** Called once everything is verified, right before the first byte is written to `device`. */
  prepare(manifest: Manifest): Promise<void>;
  /** Called after both payloads are written and their hashes match; returns the boot entry made. */
  commit(manifest: Manifest, uki: Uint8Array, downgrade: boolean): Promise<string>;
}

/** An artifact arriving as a stream (an upload through the management API); staged like a download. */
export interface StreamSource {
  readonly stream: ReadableStream<Uint8Array>;
  /** For messages, e.g. "upload from api:ops@10.0.9.1". */
  readonly label: string;
}

export interface ApplyOptions {
  readonly source: string | StreamSource;
  readonly trustedKeys: readonly Uint8Array[];
  readonly facts: Omit<BoxFacts, "slotBytes" | "force">;
  readonly force: boolean;
  readonly target: SlotTarget;
  /** Where a download is staged (on the data partition). */
  readonly stagingPath: string;
  /** No bytes from the server for this long aborts the download. */
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (p: ApplyProgress) => void;
  /** Called once the header has been verified (the update is accepted and starts). */
  readonly onAccepted?: (m: Manifest, signer: string) => void;
  /** Called once every payload has been received and matches its signed hash (before the slot is touched). */
  readonly onChecked?: (m: Manifest) => void;
  /** Chunk workers (default: one per core, at most 4). */
  readonly workers?: number;
}

export type ApplyResult =
  | {
      readonly ok: true;
      readonly manifest: Manifest;
      readonly entry: string;
      readonly downgrade: boolean;
      readonly signer: string;
      readonly ms: number;
    }
  | {
      readonly ok: false;
      readonly stage: "header" | "payload" | "write" | "switch";
      readonly reason: string;
      readonly manifest?: Manifest;
    };

export class ApplyError extends Error {
  constructor(
    readonly stage: "header" | "payload" | "write" | "switch",
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const PROGRESS_EVERY_MS = 1000;

/** `report`, called at most once per PROGRESS_EVERY_MS; callers report their final figure directly. */
function throttled<A extends unknown[]>(report: (...args: A) => void): (...args: A) => void {
  let last = 0;
  return (...args) => {
    const now = performance.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    last = now;
    report(...args);
  };
}

export async function applyArtifact(o: ApplyOptions): Promise<ApplyResult> {
  const t0 = performance.now();
  let manifest: Manifest | undefined;
  try {
    const source = await openSource(o.source, o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
    let header: Header;
    let rest: Uint8Array;
    try {
      ({ header, rest } = await readHeader(source.reader));
      manifest = header.manifest;
      const sig = checkSignature(header, o.trustedKeys);
      if (!sig.ok) throw new ApplyError("header", sig.reason);
      const verdict = checkPolicy(header.manifest, { ...o.facts, slotBytes: o.target.bytes, force: o.force });
      if (!verdict.ok) throw new ApplyError("header", verdict.reason);
      o.onAccepted?.(header.manifest, sig.key);
      const total = artifactBytes(header);
      if (source.length !== undefined && source.length !== total)
        throw new ApplyError(
          "payload",
          `${source.kind} is ${source.length} bytes; the manifest says ${total}`,
        );
      // Step 2: every chunk checked (and, for a download, staged) before the slot is touched.
      const chunks = chunkRefs(header);
      const checking = (bytes: number) =>
        o.onProgress?.({
          phase: source.kind === "file" ? "verifying" : "downloading",
          bytes,
          total,
          startedMs: t0,
        });
      if (source.path !== undefined) {
        source.close();
        await checkFileChunks(source.path, chunks, header.length, checking, o.workers);
      } else {
        const staging = await open(o.stagingPath, "w");
        try {
          await staging.write(headerBytesOf(header));
          await checkStreamChunks(source.reader, rest, header, chunks, staging, checking);
          await staging.sync();
        } finally {
          await staging.close();
        }
      }
      o.onChecked?.(header.manifest);
      const verifiedPath = source.path ?? o.stagingPath;
      const downgrade = verdict.downgrade;
      // Step 3: write.
      await o.target.prepare(header.manifest);
      const writeStarted = performance.now();
      const uki = await writeChunks(
        verifiedPath,
        header,
        chunks,
        o.target.device,
        o.workers,
        (bytes, totalOut) =>
          o.onProgress?.({ phase: "writing", bytes, total: totalOut, startedMs: writeStarted }),
      );
      // Step 4: switch.
      let entry: string;
      try {
        entry = await o.target.commit(header.manifest, uki, downgrade);
      } catch (err) {
        throw new ApplyError("switch", `switching to the new slot failed: ${String(err)}`);
      }
      if (source.kind !== "file") await unlink(o.stagingPath).catch(() => undefined);
      return {
        ok: true,
        manifest: header.manifest,
        entry,
        downgrade,
        signer: sig.key,
        ms: performance.now() - t0,
      };
    } finally {
      source.close();
    }
  } catch (err) {
    if (o.source !== o.stagingPath) await unlink(o.stagingPath).catch(() => undefined);
    // Anything else is the source failing (a connection cut, a read error): before the header is in,
    // nothing was accepted; after it, the payload could not be had.
    const stage = err instanceof ApplyError ? err.stage : manifest === undefined ? "header" : "payload";
    const reason =
      err instanceof ApplyError
        ? err.message
        : `${manifest === undefined ? "cannot read the update" : "download failed"}: ${String(err)}`;
    return { ok: false, stage, reason, ...(manifest === undefined ? {} : { manifest }) };
  }
}

interface Source {
  readonly kind: "url" | "file" | "upload";
  /** The file read in place (kind "file"). */
  readonly path?: string;
  readonly reader: ChunkReader;
  readonly length: number | undefined;
  close(): void;
}

/** Reads chunks with an idle deadline: a server that stops sending fails the update, never hangs it. */
class ChunkReader {
  private readonly reader: {
    read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
    cancel(): Promise<void>;
  };
  constructor(
    stream: ReadableStream<Uint8Array>,
    private readonly idleMs: number,
    private readonly onIdle: () => void,
  ) {
    this.reader = stream.getReader();
  }
  async next(): Promise<Uint8Array | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.onIdle();
        reject(new ApplyError("payload", `no data for ${this.idleMs / 1000} s: download aborted`));
      }, this.idleMs);
    });
    try {
      const r = await Promise.race([this.reader.read(), idle]);
      return r.done ? undefined : (r.value ?? new Uint8Array(0));
    } finally {
      clearTimeout(timer);
    }
  }
  cancel(): void {
    this.reader.cancel().catch(() => undefined);
  }
}

async function openSource(source: string | StreamSource, idleMs: number): Promise<Source> {
  if (typeof source !== "string") {
    const reader = new ChunkReader(source.stream, idleMs, () => undefined);
    return { kind: "upload", reader, length: undefined, close: () => reader.cancel() };
  }
  if (/^https?:\/\//i.test(source)) {
    const abort = new AbortController();
    const connect = setTimeout(() => abort.abort(), idleMs);
    let res: Response;
    try {
      res = await fetch(source, { signal: abort.signal, redirect: "follow" });
    } catch (err) {
      throw new ApplyError("header", `cannot fetch ${source}: ${String(err)}`);
    } finally {
      clearTimeout(connect);
    }
    if (!res.ok || res.body === null) throw new ApplyError("header", `${source}: HTTP ${res.status}`);
    const len = res.headers.get("content-length");
    const reader = new ChunkReader(res.body, idleMs, () => abort.abort());
    return {
      kind: "url",
      reader,
      length: len !== null && /^\d+$/.test(len) ? Number(len) : undefined,
      close: () => {
        reader.cancel();
        abort.abort();
      },
    };
  }
  if (!source.startsWith("/"))
    throw new ApplyError("header", `source must be an http(s):// URL or an absolute path, not '${source}'`);
  let size: number;
  try {
    const st = await stat(source);
    if (!st.isFile()) throw new ApplyError("header", `${source} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof ApplyError) throw err;
    throw new ApplyError("header", `cannot read ${source}: ${String(err)}`);
  }
  const reader = new ChunkReader(Bun.file(source).stream(), idleMs, () => undefined);
  return { kind: "file", path: source, reader, length: size, close: () => reader.cancel() };
}

async function readHeader(reader: ChunkReader): Promise<{ header: Header; rest: Uint8Array }> {
  let buf = new Uint8Array(0);
  for (;;) {
    const parsed = parseHeader(buf);
    if (parsed.kind === "invalid") throw new ApplyError("header", parsed.reason);
    if (parsed.kind === "header") return { header: parsed.header, rest: buf.subarray(parsed.header.length) };
    if (buf.length >= MAX_HEADER_BYTES) throw new ApplyError("header", "header larger than allowed");
    const chunk = await reader.next();
    if (chunk === undefined)
      throw new ApplyError("header", `truncated: the update ends inside its header (${buf.length} bytes)`);
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf, 0);
    next.set(chunk, buf.length);
    buf = next;
  }
}

function headerBytesOf(h: Header): Uint8Array {
  return encodeHeader(h.manifestBytes, h.signer, h.signature);
}

/** Hashes each chunk as it streams past and stages it; sizes are enforced exactly. */
async function checkStreamChunks(
  reader: ChunkReader,
  first: Uint8Array,
  h: Header,
  chunks: readonly ChunkRef[],
  staging: { write(b: Uint8Array): Promise<unknown> },
  onBytes: (n: number) => void,
): Promise<void> {
  let bytes = h.length;
  const progress = throttled(onBytes);
  let pending: Uint8Array | undefined = first.length > 0 ? first : undefined;
  const take = async (): Promise<Uint8Array | undefined> => {
    if (pending !== undefined) {
      const p = pending;
      pending = undefined;
      return p;
    }
    return reader.next();
  };
  for (const c of chunks) {
    const hasher = new Bun.CryptoHasher("sha256");
    let left = c.size;
    while (left > 0) {
      const chunk = await take();
      if (chunk === undefined)
        throw new ApplyError(
          "payload",
          `truncated: ${chunkName(c)} ends ${left} bytes short of its signed size ${c.size}`,
        );
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      if (chunk.length > left) pending = chunk.subarray(left);
      hasher.update(part);
      await staging.write(part);
      left -= part.length;
      bytes += part.length;
      progress(bytes);
    }
    const got = hasher.digest("hex");
    if (got !== c.sha256) throw new ApplyError("payload", corruptChunk(c, got));
  }
  const extra = await take();
  if (extra !== undefined && extra.length > 0)
    throw new ApplyError("payload", "the update is longer than its manifest says");
  onBytes(bytes);
}

/** Checks a file's chunks in place, on every core (its length was checked against the manifest). */
async function checkFileChunks(
  path: string,
  chunks: readonly ChunkRef[],
  headerBytes: number,
  onBytes: (n: number) => void,
  workers: number | undefined,
): Promise<void> {
  let bytes = headerBytes;
  const progress = throttled(onBytes);
  try {
    await runChunkJobs(
      chunks.map((chunk): ChunkJob => ({ op: "check", path, chunk })),
      (job) => {
        bytes += job.chunk.size;
        progress(bytes);
      },
      workers,
    );
  } catch (err) {
    throw new ApplyError("payload", err instanceof Error ? err.message : String(err));
  }
  onBytes(bytes);
}

/**
 * Step 3: every chunk re-checked against its signed SHA-256, decompressed (its size checked) and written
 * — the root's at their offsets in `device` (fsync at the end), the UKI's into memory. Returns the UKI.
 * Every byte written is the output of compressed bytes whose signed hash was checked right before.
 */
async function writeChunks(
  path: string,
  h: Header,
  chunks: readonly ChunkRef[],
  device: string,
  workers: number | undefined,
  onBytes: (n: number, total: number) => void,
): Promise<Uint8Array> {
  const ukiEntry = h.manifest.payloads.find((p) => p.name === "uki");
  if (ukiEntry === undefined) throw new ApplyError("write", "no UKI payload");
  const uki = new Uint8Array(ukiEntry.size);
  const total = h.manifest.payloads.reduce((n, p) => n + p.size, 0);
  let written = 0;
  const progress = throttled(onBytes);
  // Held open for the whole write: the fsync below, and the workers' closes are never the last one.
  const fd = await open(device, "r+").catch((err: unknown) => {
    throw new ApplyError("write", `cannot open ${device}: ${String(err)}`);
  });
  try {
    const jobs = chunks.map(
      (chunk): ChunkJob =>
        chunk.payload === "root"
          ? { op: "write", path, chunk, device, offset: chunk.rawAt }
          : { op: "write", path, chunk },
    );
    await runChunkJobs(
      jobs,
      (job, raw) => {
        if (job.chunk.payload === "uki") {
          if (raw === undefined || raw.length !== job.chunk.rawSize)
            throw new Error(`${chunkName(job.chunk)} came back with the wrong size`);
          uki.set(raw, job.chunk.rawAt);
        }
        written += job.chunk.rawSize;
        progress(written, total);
      },
      workers,
    );
    await fd.sync();
  } catch (err) {
    if (err instanceof ApplyError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ApplyError("write", `writing ${device} failed, nothing switched: ${reason}`);
  } finally {
    await fd.close();
  }
  // Each chunk is written once at its own offset, so the count proves every chunk was written.
  if (written !== total) throw new ApplyError("write", `wrote ${written} bytes; the manifest says ${total}`);
  onBytes(written, total);
  return uki;
}

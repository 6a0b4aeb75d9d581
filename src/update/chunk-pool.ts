// Runs chunk jobs on one worker per core (src/update/chunk-worker.ts): at most QUEUED_PER_WORKER jobs
// per worker at a time, so memory stays at a few chunks per core whatever the payload's size. The first
// failure stops handing out jobs; the jobs already handed out finish, the workers close their files,
// and the run rejects with that failure.
import { availableParallelism } from "node:os";
import { workerUrl } from "../../ffi/worker-url.ts";
import type { ChunkJob, FromWorker, ToWorker } from "./chunk-protocol.ts";

/** One job running and one waiting, so a worker never idles waiting for the next message. */
const QUEUED_PER_WORKER = 2;
const MAX_WORKERS = 4;

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
}

export function chunkWorkerUrl(): string {
  return workerUrl(import.meta.url, "src/update/chunk-worker.ts", "update-worker");
}

/**
 * Runs `jobs` (in order of hand-out, not completion); `onDone` gets each finished job and, for a write
 * without a device, its raw bytes. Rejects with the first job's failure reason as an Error.
 */
export function runChunkJobs(
  jobs: readonly ChunkJob[],
  onDone: (job: ChunkJob, raw: Uint8Array | undefined) => void,
  workers: number = defaultWorkerCount(),
): Promise<void> {
  if (jobs.length === 0) return Promise.resolve();
  const count = Math.max(1, Math.min(workers, jobs.length));
  return new Promise<void>((resolve, reject) => {
    const pool: { worker: Worker; busy: Set<number>; closed: boolean }[] = [];
    let next = 0;
    let finished = 0;
    let failure: Error | undefined;
    let settled = false;

    const settle = () => {
      if (settled) return;
      settled = true;
      for (const w of pool) w.worker.terminate();
      if (failure !== undefined) reject(failure);
      else resolve();
    };
    const closeAll = () => {
      for (const w of pool)
        if (w.busy.size === 0 && !w.closed) {
          w.closed = true;
          w.worker.postMessage({ kind: "close" } satisfies ToWorker);
        }
    };
    const feed = (w: (typeof pool)[number]) => {
      while (failure === undefined && next < jobs.length && w.busy.size < QUEUED_PER_WORKER) {
        const id = next++;
        const job = jobs[id] as ChunkJob;
        w.busy.add(id);
        w.worker.postMessage({ kind: "job", id, job } satisfies ToWorker);
      }
      if (failure !== undefined || finished === jobs.length) closeAll();
    };
    const fail = (err: Error) => {
      failure ??= err;
      closeAll();
    };

    for (let i = 0; i < count; i++) {
      const w = { worker: new Worker(chunkWorkerUrl()), busy: new Set<number>(), closed: false };
      pool.push(w);
      w.worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const msg = e.data;
        if (msg.kind === "closed") {
          if (pool.every((p) => p.closed)) settle();
          return;
        }
        w.busy.delete(msg.id);
        if (msg.kind === "failed") {
          fail(new Error(msg.reason));
          return;
        }
        finished++;
        try {
          if (failure === undefined) onDone(jobs[msg.id] as ChunkJob, msg.raw);
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
        }
        feed(w);
      };
      w.worker.onerror = (e: ErrorEvent) => {
        // A worker that died cannot answer "close": give up on its files and end now.
        failure ??= new Error(`chunk worker failed: ${e.message}`);
        settle();
      };
    }
    for (const w of pool) feed(w);
  });
}

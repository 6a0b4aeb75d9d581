// Messages between the updater and its chunk workers (src/update/chunk-worker.ts, chunk-pool.ts).
import type { ChunkRef } from "./manifest.ts";

export type ChunkJob =
  /** Step 2 for a file read in place: the chunk's compressed bytes against their signed SHA-256. */
  | { readonly op: "check"; readonly path: string; readonly chunk: ChunkRef }
  /**
   * Step 3: check again (the file may have changed since step 2), decompress, and either write the raw
   * bytes to `device` at `offset` or (no device) send them back.
   */
  | {
      readonly op: "write";
      readonly path: string;
      readonly chunk: ChunkRef;
      readonly device?: string;
      readonly offset?: number;
    };

export type ToWorker =
  | { readonly kind: "job"; readonly id: number; readonly job: ChunkJob }
  /** Close every file the worker holds open, then answer "closed". */
  | { readonly kind: "close" };

export type FromWorker =
  | { readonly kind: "done"; readonly id: number; readonly raw?: Uint8Array }
  | { readonly kind: "failed"; readonly id: number; readonly reason: string }
  | { readonly kind: "closed" };

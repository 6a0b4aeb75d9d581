// Output to a terminal that may stop taking it (a serial line with nobody reading and flow control on, a
// stuck UART): writes go to a non-blocking fd, whatever the device does not take now waits in a queue of
// bounded size and is retried on a timer, and what does not fit is dropped and counted. So the daemon's
// event loop never waits on the port, and memory for it never grows past `maxBytes`.

/** Writes some of `bytes` now; returns how many were taken, or "again" when the device takes none now. */
export type WriteSome = (bytes: Uint8Array) => number | "again";

export interface PortWriterOptions {
  readonly writeSome: WriteSome;
  /** Hard bound on queued bytes; a write that would pass it is dropped whole. 64 KiB by default. */
  readonly maxBytes?: number;
  /** Above this many queued bytes write() returns false (the caller should pause). 4 KiB by default. */
  readonly highWaterBytes?: number;
  /** How long to wait before trying a device that took nothing again. */
  readonly retryMs?: number;
  /** The queue went below the high-water mark after write() had returned false. */
  readonly onDrain?: () => void;
  /** The device failed (EIO, hangup): the writer is dead, the owner reopens. */
  readonly onError?: (err: unknown) => void;
}

export const PORT_QUEUE_MAX_BYTES = 64 * 1024;
const DEFAULT_HIGH_WATER = 4096;
const DEFAULT_RETRY_MS = 20;

export class PortWriter {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private wantDrain = false;
  private dead = false;
  private droppedBytes = 0;
  private readonly encoder = new TextEncoder();
  private readonly maxBytes: number;
  private readonly highWater: number;

  constructor(private readonly opts: PortWriterOptions) {
    this.maxBytes = opts.maxBytes ?? PORT_QUEUE_MAX_BYTES;
    this.highWater = Math.min(opts.highWaterBytes ?? DEFAULT_HIGH_WATER, this.maxBytes);
    if (!(this.maxBytes > 0)) throw new Error(`port writer: maxBytes must be positive, not ${this.maxBytes}`);
  }

  /** Bytes waiting for the device. */
  get pending(): number {
    return this.queued;
  }

  /** Bytes dropped since the last takeDropped(). */
  takeDropped(): number {
    const n = this.droppedBytes;
    this.droppedBytes = 0;
    return n;
  }

  /**
   * Queues `text` and writes what the device takes now. Returns false when the caller should pause
   * (queue above the high-water mark, or this text was dropped because the queue is full).
   */
  write(text: string | Uint8Array): boolean {
    if (this.dead) return false;
    const bytes = typeof text === "string" ? this.encoder.encode(text) : text;
    if (bytes.byteLength === 0) return true;
    if (this.queued + bytes.byteLength > this.maxBytes) {
      this.droppedBytes += bytes.byteLength;
      this.wantDrain = true;
      return false;
    }
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    this.flush();
    if (this.dead) return false;
    if (this.queued > this.highWater) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  /** Stops retrying and forgets the queue; later writes are dropped. */
  close(): void {
    this.dead = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.queue.length = 0;
    this.queued = 0;
  }

  private flush(): void {
    if (this.retryTimer !== null || this.dead) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      let taken: number | "again";
      try {
        taken = this.opts.writeSome(head);
      } catch (err) {
        this.close();
        this.opts.onError?.(err);
        return;
      }
      if (taken === "again" || taken === 0) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.flush();
        }, this.opts.retryMs ?? DEFAULT_RETRY_MS);
        return;
      }
      this.queued -= taken;
      if (taken >= head.byteLength) this.queue.shift();
      else this.queue[0] = head.subarray(taken);
    }
    if (this.wantDrain && this.queued <= this.highWater) {
      this.wantDrain = false;
      this.opts.onDrain?.();
    }
  }
}

// Readiness of one fd without blocking the event loop: a Worker blocks in poll() and tells the main
// thread when the fd becomes readable; the main thread then drains it with nonblocking reads.
import { CTRL_ARM, CTRL_SLOTS, CTRL_STOP, type WatchInit, type WatchReport } from "./fd-watch-protocol.ts";
import { close as closeFd, eventfd, eventfdSignal } from "./libc.ts";
import { workerUrl } from "./worker-url.ts";

export type Readiness = "readable" | "timeout";

export class FdWatcherError extends Error {
  override readonly name = "FdWatcherError";
}

/** Upper bound on live watchers: each is a thread. */
export const MAX_WATCHERS = 32;
const STOP_DEADLINE_MS = 2000;
let liveWatchers = 0;

/** Where the worker module lives (from source, in the image's bundle, or in a compiled executable). */
function workerSpecifier(): string {
  return workerUrl(import.meta.url, "ffi/fd-watch-worker.ts", "fd-watch-worker");
}

interface Waiter {
  resolve(r: Readiness): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class FdWatcher {
  private readonly worker: Worker;
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * CTRL_SLOTS));
  private readonly wakeFd: number;
  private readonly waiters = new Set<Waiter>();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private stopped: (() => void) | null = null;
  /** Readiness reported while nobody was waiting: the next wait returns at once. */
  private pendingReady = false;

  /** Watches fd (owned by the caller, who must keep it open until close() has resolved). */
  constructor(readonly fd: number) {
    if (liveWatchers >= MAX_WATCHERS) throw new FdWatcherError(`more than ${MAX_WATCHERS} fd watchers`);
    this.wakeFd = eventfd();
    liveWatchers++;
    this.worker = new Worker(workerSpecifier());
    this.worker.onmessage = (e: MessageEvent<WatchReport>) => this.onReport(e.data);
    this.worker.onerror = (e) => this.fail(new FdWatcherError(`fd watcher worker failed: ${e.message}`));
    this.worker.unref();
    const init: WatchInit = { fd, wakeFd: this.wakeFd, control: this.control.buffer as SharedArrayBuffer };
    this.worker.postMessage(init);
  }

  /** Resolves "readable" once fd has data (or an error to collect), "timeout" after timeoutMs. */
  waitReadable(timeoutMs?: number): Promise<Readiness> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new FdWatcherError("fd watcher is closed"));
    if (this.pendingReady) {
      this.pendingReady = false;
      return Promise.resolve("readable");
    }
    return new Promise<Readiness>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          this.updateRef();
          resolve("timeout");
        }, timeoutMs);
      }
      this.waiters.add(waiter);
      this.updateRef();
      Atomics.store(this.control, CTRL_ARM, 1);
      Atomics.notify(this.control, CTRL_ARM);
    });
  }

  /** Stops the worker; resolves when it no longer touches fd. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(deadline);
        this.worker.terminate();
        closeFd(this.wakeFd);
        liveWatchers--;
        resolve();
      };
      const deadline = setTimeout(finish, STOP_DEADLINE_MS);
      this.stopped = finish;
      Atomics.store(this.control, CTRL_STOP, 1);
      Atomics.notify(this.control, CTRL_ARM);
      eventfdSignal(this.wakeFd);
    });
    for (const w of this.waiters) this.settle(w, () => w.reject(new FdWatcherError("fd watcher closed")));
    this.waiters.clear();
    this.worker.ref();
    return this.closing;
  }

  private onReport(report: WatchReport): void {
    switch (report.kind) {
      case "ready": {
        if (this.waiters.size === 0) {
          this.pendingReady = true;
          return;
        }
        for (const w of this.waiters) this.settle(w, () => w.resolve("readable"));
        this.waiters.clear();
        this.updateRef();
        return;
      }
      case "stopped":
        this.stopped?.();
        return;
      case "failed":
        this.fail(new FdWatcherError(`fd watcher worker failed: ${report.message}`));
        return;
    }
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const w of this.waiters) this.settle(w, () => w.reject(err));
    this.waiters.clear();
    this.stopped?.();
  }

  private settle(w: Waiter, action: () => void): void {
    if (w.timer !== undefined) clearTimeout(w.timer);
    action();
  }

  /** Keep the process alive only while someone waits for this fd. */
  private updateRef(): void {
    if (this.waiters.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}

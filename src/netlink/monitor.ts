// rtnetlink notifications (link, address, route changes) as a bounded async stream. Its own socket,
// read when a Worker reports readiness, so waiting for events never blocks the event loop.
import { NETLINK_PROTO } from "../../ffi/constants.ts";
import { NetlinkDecodeError, NetlinkOverrunError } from "./errors.ts";
import { decodeMessages } from "./message.ts";
import { decodeRtnlMessage, type RtnlEvent } from "./rtnl-codec.ts";
import { RTNLGRP } from "./rtnl-constants.ts";
import { LibnlTransport, type NetlinkTransport } from "./transport.ts";

/**
 * "overrun": the kernel or our queue dropped events; re-read state (list links) to resynchronise.
 * "error": a datagram could not be decoded; it is skipped.
 */
export type MonitorEvent =
  | RtnlEvent
  | { readonly kind: "overrun"; readonly reason: string }
  | { readonly kind: "error"; readonly error: Error };

export interface MonitorOptions {
  /** Events kept while nobody reads; beyond it the oldest are dropped and an overrun is reported. */
  readonly maxQueued?: number;
}

const DEFAULT_MAX_QUEUED = 4096;
/** How long one readiness wait lasts before the loop re-checks whether it was closed. */
const WAIT_SLICE_MS = 60_000;

export class RtnlMonitor implements AsyncIterable<MonitorEvent> {
  private readonly queue: MonitorEvent[] = [];
  private readonly maxQueued: number;
  private readers: ((e: MonitorEvent | null) => void)[] = [];
  private closed = false;
  /** Events dropped from the full queue since the last overrun report. */
  private dropped = 0;
  private readonly loop: Promise<void>;

  constructor(
    private readonly transport: NetlinkTransport,
    groups: readonly number[],
    options: MonitorOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    for (const g of groups) transport.addMembership(g);
    this.loop = this.run();
  }

  /** Subscribes in the calling thread's namespace; default: link changes only. */
  static open(groups: readonly number[] = [RTNLGRP.LINK], options: MonitorOptions = {}): RtnlMonitor {
    const transport = LibnlTransport.open(NETLINK_PROTO.ROUTE, { receiveBufferBytes: 1 << 20 });
    try {
      return new RtnlMonitor(transport, groups, options);
    } catch (err) {
      void transport.close();
      throw err;
    }
  }

  /** The next event; null when closed or when timeoutMs passes first. */
  next(timeoutMs?: number): Promise<MonitorEvent | null> {
    if (this.dropped > 0) {
      const reason = `${this.dropped} events dropped: more than ${this.maxQueued} unread`;
      this.dropped = 0;
      return Promise.resolve({ kind: "overrun", reason });
    }
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reader = (e: MonitorEvent | null) => {
        if (timer) clearTimeout(timer);
        resolve(e);
      };
      this.readers.push(reader);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.readers = this.readers.filter((r) => r !== reader);
          resolve(null);
        }, timeoutMs);
      }
    });
  }

  /** Waits for the first event that satisfies match, up to timeoutMs; null on timeout. */
  async waitFor<T extends MonitorEvent>(
    match: (e: MonitorEvent) => e is T,
    timeoutMs: number,
  ): Promise<T | null>;
  async waitFor(match: (e: MonitorEvent) => boolean, timeoutMs: number): Promise<MonitorEvent | null>;
  async waitFor(match: (e: MonitorEvent) => boolean, timeoutMs: number): Promise<MonitorEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      const e = await this.next(left);
      if (e === null) return null;
      if (match(e)) return e;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MonitorEvent> {
    for (;;) {
      const e = await this.next();
      if (e === null) return;
      yield e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.readers.splice(0)) r(null);
    await this.transport.close();
    await this.loop.catch(() => undefined);
  }

  private push(e: MonitorEvent): void {
    const reader = this.readers.shift();
    if (reader) {
      reader(e);
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(e);
  }

  private drain(): void {
    for (;;) {
      let d: ReturnType<NetlinkTransport["receive"]>;
      try {
        d = this.transport.receive();
      } catch (err) {
        if (err instanceof NetlinkOverrunError) {
          this.push({ kind: "overrun", reason: err.message });
          continue;
        }
        throw err;
      }
      if (d === null) return;
      if (!d.fromKernel) continue;
      try {
        for (const m of decodeMessages(d.data)) {
          const e = decodeRtnlMessage(m);
          if (e) this.push(e);
        }
      } catch (err) {
        if (!(err instanceof NetlinkDecodeError)) throw err;
        this.push({ kind: "error", error: err });
      }
    }
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed) {
        this.drain();
        await this.transport.waitReadable(WAIT_SLICE_MS);
      }
    } catch (err) {
      if (this.closed) return;
      // The socket is unusable: report why, then end the stream (readers get null once it is drained).
      this.push({ kind: "error", error: err instanceof Error ? err : new Error(String(err)) });
      this.closed = true;
      for (const r of this.readers.splice(0)) r(null);
      await this.transport.close().catch(() => undefined);
    }
  }
}

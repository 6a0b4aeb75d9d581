// Request/response over a netlink transport: sequence matching, acks, dumps, batches, deadlines.
// The kernel answers rtnetlink and generic-netlink requests inside the send call, so an exchange normally
// completes by draining the socket right after sending; otherwise it waits for readiness off-thread.
import { NLM_F, NLMSG } from "./constants.ts";
import {
  DumpInterruptedError,
  KernelError,
  NetlinkClosedError,
  NetlinkDecodeError,
  NetlinkOverrunError,
  NetlinkTimeoutError,
} from "./errors.ts";
import {
  decodeDoneErrno,
  decodeErrorPayload,
  decodeMessages,
  encodeMessages,
  type NlMessage,
} from "./message.ts";
import type { NetlinkTransport } from "./transport.ts";

export interface NlRequest {
  readonly type: number;
  /** Extra flags (CREATE, EXCL, REPLACE, DUMP...); REQUEST and ACK are added by the client. */
  readonly flags: number;
  readonly payload: Uint8Array;
  /**
   * Human-readable name for errors, e.g. "RTM_NEWADDR eth0 192.0.2.1/24". A function is called only when
   * an error needs the name, so a batch of 50,000 successful requests builds no strings.
   */
  readonly name?: string | (() => string);
}

export type BatchResult =
  | { readonly ok: true; readonly replies: NlMessage[] }
  | { readonly ok: false; readonly error: Error };

export interface ClientOptions {
  /** Deadline for one exchange (a request, a dump, or one chunk of a batch). */
  readonly timeoutMs?: number;
  /** Messages sent per batch chunk before their acks are collected (bounds receive-buffer use). */
  readonly maxBatchMessages?: number;
  /** Exchanges queued behind the running one before request() refuses. */
  readonly maxQueued?: number;
  /** Replies accepted for one request or dump. */
  readonly maxRepliesPerRequest?: number;
  /** Datagrams read per drain before yielding (keeps one drain from monopolising the loop). */
  readonly maxDatagramsPerDrain?: number;
}

const DEFAULTS = {
  timeoutMs: 5000,
  maxBatchMessages: 64,
  maxQueued: 4096,
  maxRepliesPerRequest: 1_000_000,
  maxDatagramsPerDrain: 4096,
} as const;
const MAX_BATCH_BYTES = 64 * 1024;
const DUMP_RETRIES = 3;

interface Pending {
  readonly nameOf: () => string;
  readonly dump: boolean;
  readonly replies: NlMessage[];
  interrupted: boolean;
  outcome: { ok: true } | { ok: false; error: Error } | null;
}

export class NetlinkClient {
  private readonly opts: Required<ClientOptions>;
  private readonly pending = new Map<number, Pending>();
  private queue: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private closed = false;
  /** Messages that matched no pending request (late replies after a timeout, foreign seqs). */
  strayMessages = 0;
  /** Where exchanges spend their time, cumulative: for benchmarks and metrics. */
  readonly timing = { sendMs: 0, sends: 0, receiveMs: 0, datagrams: 0, waitMs: 0, waits: 0 };

  constructor(
    private readonly transport: NetlinkTransport,
    options: ClientOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...options };
  }

  /** Sends one request with NLM_F_ACK; resolves with the data replies (if any) once acked. */
  async request(req: NlRequest): Promise<NlMessage[]> {
    const [result] = await this.serial(() => this.exchange([req], false));
    if (!result) throw new Error("netlink client: no result for request");
    if (!result.ok) throw result.error;
    return result.replies;
  }

  /** Sends a dump request and collects every part until NLMSG_DONE; retries interrupted dumps. */
  async dump(req: NlRequest): Promise<NlMessage[]> {
    for (let attempt = 1; ; attempt++) {
      const [result] = await this.serial(() =>
        this.exchange([{ ...req, flags: req.flags | NLM_F.DUMP }], true),
      );
      if (!result) throw new Error("netlink client: no result for dump");
      if (result.ok) return result.replies;
      if (!(result.error instanceof DumpInterruptedError) || attempt >= DUMP_RETRIES) throw result.error;
    }
  }

  /**
   * Sends many requests, several per send call, each with its own ack. Results are in request order;
   * one failure does not stop the others (the kernel processes each message on its own).
   */
  async batch(reqs: readonly NlRequest[]): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    let chunk: NlRequest[] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const c = chunk;
      chunk = [];
      bytes = 0;
      results.push(...(await this.serial(() => this.exchange(c, false))));
    };
    for (const r of reqs) {
      const size = 16 + r.payload.byteLength;
      if (chunk.length >= this.opts.maxBatchMessages || bytes + size > MAX_BATCH_BYTES) await flush();
      chunk.push(r);
      bytes += size;
    }
    await flush();
    return results;
  }

  /** Fails pending requests and closes the transport. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      p.outcome ??= { ok: false, error: new NetlinkClosedError("netlink client closed") };
    }
    await this.transport.close();
  }

  /** Runs exchanges one at a time: one socket carries at most one dump, and replies stay in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new NetlinkClosedError("netlink client closed"));
    if (this.queued >= this.opts.maxQueued) {
      return Promise.reject(new Error(`netlink client: more than ${this.opts.maxQueued} queued requests`));
    }
    this.queued++;
    const run = this.queue.then(fn, fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.queued--;
    });
  }

  private async exchange(reqs: readonly NlRequest[], dump: boolean): Promise<BatchResult[]> {
    if (this.closed) throw new NetlinkClosedError("netlink client closed");
    const seqs: number[] = [];
    const messages: NlMessage[] = [];
    for (const r of reqs) {
      const seq = this.transport.nextSeq();
      seqs.push(seq);
      this.pending.set(seq, {
        nameOf: nameThunk(r),
        dump,
        replies: [],
        interrupted: false,
        outcome: null,
      });
      const flags = r.flags | NLM_F.REQUEST | (dump ? 0 : NLM_F.ACK);
      messages.push({ type: r.type, flags, seq, portId: 0, payload: r.payload });
    }
    try {
      const encoded = encodeMessages(messages);
      const sendStart = performance.now();
      this.transport.send(encoded);
      this.timing.sendMs += performance.now() - sendStart;
      this.timing.sends++;
      const deadline = Date.now() + this.opts.timeoutMs;
      while (!seqs.every((s) => this.pending.get(s)?.outcome)) {
        if (this.drain() > 0) continue;
        const left = deadline - Date.now();
        const waitStart = performance.now();
        const waited = left <= 0 ? "timeout" : await this.transport.waitReadable(left);
        this.timing.waitMs += performance.now() - waitStart;
        this.timing.waits++;
        if (waited === "timeout") {
          for (const s of seqs) {
            const p = this.pending.get(s);
            if (p && !p.outcome) {
              p.outcome = {
                ok: false,
                error: new NetlinkTimeoutError(`${p.nameOf()}: no answer within deadline`),
              };
            }
          }
        }
        if (this.closed) break;
      }
      return seqs.map((s) => this.result(s));
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      return seqs.map((s) => {
        const p = this.pending.get(s);
        if (p && !p.outcome) p.outcome = { ok: false, error };
        return this.result(s);
      });
    } finally {
      for (const s of seqs) this.pending.delete(s);
    }
  }

  private result(seq: number): BatchResult {
    const p = this.pending.get(seq);
    if (!p?.outcome) return { ok: false, error: new NetlinkClosedError("request abandoned") };
    if (!p.outcome.ok) return { ok: false, error: p.outcome.error };
    return { ok: true, replies: p.replies };
  }

  /** Reads every queued datagram and dispatches its messages; returns how many datagrams were read. */
  private drain(): number {
    let n = 0;
    for (; n < this.opts.maxDatagramsPerDrain; n++) {
      let d: ReturnType<NetlinkTransport["receive"]>;
      const receiveStart = performance.now();
      try {
        d = this.transport.receive();
        this.timing.receiveMs += performance.now() - receiveStart;
      } catch (err) {
        if (err instanceof NetlinkOverrunError) this.failAll(err);
        throw err;
      }
      if (d === null) break;
      this.timing.datagrams++;
      if (!d.fromKernel) continue;
      let msgs: NlMessage[];
      try {
        msgs = decodeMessages(d.data);
      } catch (err) {
        if (err instanceof NetlinkDecodeError) {
          this.failAll(err);
          continue;
        }
        throw err;
      }
      for (const m of msgs) this.dispatch(m);
    }
    return n;
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.outcome ??= { ok: false, error };
  }

  private dispatch(m: NlMessage): void {
    const p = this.pending.get(m.seq);
    if (!p || p.outcome) {
      this.strayMessages++;
      return;
    }
    if (m.type === NLMSG.ERROR) {
      const e = decodeErrorPayload(m);
      p.outcome =
        e.errno === 0
          ? this.finish(p)
          : { ok: false, error: new KernelError(e.errno, p.nameOf(), e.extackMessage, e.extackOffset) };
      return;
    }
    if (m.type === NLMSG.DONE) {
      const errno = decodeDoneErrno(m);
      p.outcome = errno === 0 ? this.finish(p) : { ok: false, error: new KernelError(errno, p.nameOf()) };
      return;
    }
    if (m.type === NLMSG.NOOP) return;
    if (m.type === NLMSG.OVERRUN) {
      p.outcome = { ok: false, error: new NetlinkOverrunError(`${p.nameOf()}: NLMSG_OVERRUN`) };
      return;
    }
    if ((m.flags & NLM_F.DUMP_INTR) !== 0) p.interrupted = true;
    if (p.replies.length >= this.opts.maxRepliesPerRequest) {
      p.outcome = {
        ok: false,
        error: new Error(`${p.nameOf()}: more than ${this.opts.maxRepliesPerRequest} replies`),
      };
      return;
    }
    p.replies.push(m);
  }

  private finish(p: Pending): { ok: true } | { ok: false; error: Error } {
    if (p.dump && p.interrupted) {
      return { ok: false, error: new DumpInterruptedError(`${p.nameOf()}: dump changed while being read`) };
    }
    return { ok: true };
  }
}

function nameThunk(r: NlRequest): () => string {
  const n = r.name;
  if (typeof n === "function") return n;
  return () => n ?? `netlink message type ${r.type}`;
}

// NetlinkClient logic against a scripted fake kernel (the real kernel is exercised in test/netns).
import { describe, expect, test } from "bun:test";
import { NetlinkClient } from "../../src/netlink/client.ts";
import {
  DumpInterruptedError,
  decodeMessages,
  encodeMessage,
  encodeMessages,
  KernelError,
  NetlinkDecodeError,
  NetlinkOverrunError,
  NetlinkTimeoutError,
  NLM_F,
  NLMSG,
  type NlMessage,
  NlWriter,
} from "../../src/netlink/codec.ts";
import type { Datagram, NetlinkTransport } from "../../src/netlink/transport.ts";

type Handler = (m: NlMessage) => Uint8Array[];

class FakeKernel implements NetlinkTransport {
  readonly localPort = 1234;
  private seq = 100;
  readonly queue: Datagram[] = [];
  /** Datagrams released only when the client waits for readiness. */
  readonly late: Datagram[] = [];
  sends = 0;
  waits = 0;
  overrunNext = false;
  constructor(private readonly handler: Handler) {}
  nextSeq(): number {
    return this.seq++;
  }
  send(bytes: Uint8Array): void {
    this.sends++;
    for (const m of decodeMessages(bytes)) {
      for (const d of this.handler(m)) this.queue.push({ data: d, fromKernel: true, groups: 0 });
    }
  }
  receive(): Datagram | null {
    if (this.overrunNext) {
      this.overrunNext = false;
      throw new NetlinkOverrunError("overrun");
    }
    return this.queue.shift() ?? null;
  }
  async waitReadable(): Promise<"readable" | "timeout"> {
    this.waits++;
    if (this.late.length === 0) return "timeout";
    this.queue.push(...this.late.splice(0));
    return "readable";
  }
  addMembership(): void {}
  async close(): Promise<void> {}
}

function ack(req: NlMessage, errno = 0, extack?: string): Uint8Array {
  const w = new NlWriter();
  const code = new Uint8Array(4);
  new DataView(code.buffer).setInt32(0, -errno, true);
  w.raw(code).raw(encodeMessage({ ...req, payload: new Uint8Array(0) }));
  let flags = NLM_F.CAPPED;
  if (extack) {
    w.str(1, extack);
    flags |= NLM_F.ACK_TLVS;
  }
  return encodeMessage({ type: NLMSG.ERROR, flags, seq: req.seq, portId: 1234, payload: w.finish() });
}

const data = (req: NlMessage, type: number, n: number, flags: number = NLM_F.MULTI) =>
  encodeMessage({ type, flags, seq: req.seq, portId: 1234, payload: new Uint8Array([n, 0, 0, 0]) });
const done = (req: NlMessage) =>
  encodeMessage({
    type: NLMSG.DONE,
    flags: NLM_F.MULTI,
    seq: req.seq,
    portId: 1234,
    payload: new Uint8Array(4),
  });

describe("NetlinkClient", () => {
  test("request: sets REQUEST|ACK, resolves on the ack with data replies", async () => {
    let seen: NlMessage | undefined;
    const k = new FakeKernel((m) => {
      seen = m;
      return [new Uint8Array([...data(m, 16, 1, 0), ...ack(m)])];
    });
    const c = new NetlinkClient(k);
    const replies = await c.request({ type: 18, flags: 0, payload: new Uint8Array(16) });
    expect(seen!.flags & (NLM_F.REQUEST | NLM_F.ACK)).toBe(NLM_F.REQUEST | NLM_F.ACK);
    expect(replies.map((r) => r.payload[0])).toEqual([1]);
    expect(k.waits).toBe(0); // answered synchronously: no readiness wait
  });

  test("request: kernel error becomes KernelError with errno name and extack text", async () => {
    const c = new NetlinkClient(new FakeKernel((m) => [ack(m, 17, "Address already assigned")]));
    const err = await c
      .request({ type: 20, flags: 0, payload: new Uint8Array(8), name: "add x" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe("EEXIST");
    expect(err.extack).toBe("Address already assigned");
    expect(err.message).toContain("add x");
  });

  test("dump: parts across datagrams, some arriving only after a readiness wait", async () => {
    const k = new FakeKernel((m) => {
      k.late.push({ data: new Uint8Array([...data(m, 16, 3), ...done(m)]), fromKernel: true, groups: 0 });
      return [data(m, 16, 1), data(m, 16, 2)];
    });
    const c = new NetlinkClient(k);
    const replies = await c.dump({ type: 18, flags: 0, payload: new Uint8Array(16) });
    expect(replies.map((r) => r.payload[0])).toEqual([1, 2, 3]);
    expect(k.waits).toBe(1);
  });

  test("dump: an interrupted dump is retried, then reported", async () => {
    let attempts = 0;
    const k = new FakeKernel((m) => {
      attempts++;
      const flags = attempts < 2 ? NLM_F.MULTI | NLM_F.DUMP_INTR : NLM_F.MULTI;
      return [new Uint8Array([...data(m, 16, attempts, flags), ...done(m)])];
    });
    const replies = await new NetlinkClient(k).dump({ type: 18, flags: 0, payload: new Uint8Array(16) });
    expect(attempts).toBe(2);
    expect(replies.map((r) => r.payload[0])).toEqual([2]);

    const always = new FakeKernel((m) => [
      new Uint8Array([...data(m, 16, 1, NLM_F.MULTI | NLM_F.DUMP_INTR), ...done(m)]),
    ]);
    const err = await new NetlinkClient(always)
      .dump({ type: 18, flags: 0, payload: new Uint8Array(0) })
      .catch((e) => e);
    expect(err).toBeInstanceOf(DumpInterruptedError);
  });

  test("batch: several messages per send, each acked; failures do not stop the others", async () => {
    const k = new FakeKernel((m) => [m.payload[0] === 2 ? ack(m, 2) : ack(m)]);
    const c = new NetlinkClient(k, { maxBatchMessages: 3 });
    const reqs = [0, 1, 2, 3, 4, 5, 6].map((i) => ({
      type: 24,
      flags: 0,
      payload: new Uint8Array([i, 0, 0, 0]),
    }));
    const results = await c.batch(reqs);
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true, true, true, true]);
    const failed = results[2]!;
    expect(!failed.ok && failed.error instanceof KernelError && failed.error.code).toBe("ENOENT");
    expect(k.sends).toBe(3); // 3 + 3 + 1
  });

  test("timeout: no answer within the deadline is a NetlinkTimeoutError, and late replies are stray", async () => {
    let last: NlMessage | undefined;
    const k = new FakeKernel((m) => {
      last = m;
      return [];
    });
    const c = new NetlinkClient(k, { timeoutMs: 20 });
    const err = await c.request({ type: 18, flags: 0, payload: new Uint8Array(0) }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkTimeoutError);
    k.queue.push({ data: ack(last!), fromKernel: true, groups: 0 });
    k.queue.push({ data: ack({ ...last!, seq: 1 }), fromKernel: false, groups: 0 }); // not from the kernel
    const k2ack = await c.request({ type: 18, flags: 0, payload: new Uint8Array(0) }).catch((e) => e);
    expect(k2ack).toBeInstanceOf(NetlinkTimeoutError);
    expect(c.strayMessages).toBe(1);
  });

  test("garbage from the socket fails the pending request with a typed decode error", async () => {
    const c = new NetlinkClient(new FakeKernel(() => [new Uint8Array([1, 2, 3])]), { timeoutMs: 20 });
    const err = await c.request({ type: 18, flags: 0, payload: new Uint8Array(0) }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkDecodeError);
  });

  test("receive-buffer overrun fails pending requests with NetlinkOverrunError", async () => {
    const k = new FakeKernel(() => []);
    k.overrunNext = true;
    const err = await new NetlinkClient(k)
      .request({ type: 18, flags: 0, payload: new Uint8Array(0) })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkOverrunError);
  });

  test("concurrent requests are serialised and each gets its own replies", async () => {
    const k = new FakeKernel((m) => [new Uint8Array([...data(m, 16, m.payload[0]!, 0), ...ack(m)])]);
    const c = new NetlinkClient(k);
    const results = await Promise.all(
      [7, 8, 9].map((i) => c.request({ type: 18, flags: 0, payload: new Uint8Array([i, 0, 0, 0]) })),
    );
    expect(results.map((r) => r[0]!.payload[0])).toEqual([7, 8, 9]);
  });

  test("closed client refuses requests", async () => {
    const c = new NetlinkClient(new FakeKernel((m) => [ack(m)]));
    await c.close();
    await c.close();
    await expect(c.request({ type: 18, flags: 0, payload: new Uint8Array(0) })).rejects.toThrow("closed");
  });

  test("encodeMessages output is what the fake kernel decodes (sanity)", () => {
    const ms = [{ type: 16, flags: 1, seq: 1, portId: 0, payload: new Uint8Array(3) }];
    expect(decodeMessages(encodeMessages(ms))).toEqual(ms);
  });
});

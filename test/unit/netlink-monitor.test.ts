// RtnlMonitor stream logic with a scripted transport (the real kernel: test/netns/netlink-monitor.test.ts).
import { expect, test } from "bun:test";
import { NlWriter } from "../../src/netlink/attrs.ts";
import { NetlinkOverrunError } from "../../src/netlink/errors.ts";
import { encodeMessage } from "../../src/netlink/message.ts";
import { RtnlMonitor } from "../../src/netlink/monitor.ts";
import { encodeIfInfoMsg } from "../../src/netlink/rtnl-codec.ts";
import { IFF, IFLA, RTM } from "../../src/netlink/rtnl-constants.ts";
import type { Datagram, NetlinkTransport } from "../../src/netlink/transport.ts";

class ScriptedTransport implements NetlinkTransport {
  readonly localPort = 1;
  readonly groups: number[] = [];
  readonly queue: (Datagram | Error)[] = [];
  private wake: (() => void) | null = null;
  closed = false;
  nextSeq(): number {
    return 1;
  }
  send(): void {}
  receive(): Datagram | null {
    const next = this.queue.shift();
    if (next instanceof Error) throw next;
    return next ?? null;
  }
  waitReadable(): Promise<"readable" | "timeout"> {
    if (this.queue.length > 0) return Promise.resolve("readable");
    return new Promise((resolve, reject) => {
      this.wake = () => (this.closed ? reject(new Error("closed")) : resolve("readable"));
    });
  }
  addMembership(g: number): void {
    this.groups.push(g);
  }
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }
  deliver(...items: (Datagram | Error)[]): void {
    this.queue.push(...items);
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

const linkMsg = (name: string, up: boolean) =>
  encodeMessage({
    type: RTM.NEWLINK,
    flags: 0,
    seq: 0,
    portId: 0,
    payload: new NlWriter()
      .raw(encodeIfInfoMsg({ index: 3, flags: up ? IFF.UP : 0 }))
      .str(IFLA.IFNAME, name)
      .finish(),
  });
const dgram = (data: Uint8Array, fromKernel = true): Datagram => ({ data, fromKernel, groups: 1 });

test("decodes link events, ignores other senders, subscribes to the groups", async () => {
  const t = new ScriptedTransport();
  const mon = new RtnlMonitor(t, [1, 5]);
  expect(t.groups).toEqual([1, 5]);
  t.deliver(dgram(linkMsg("spoof0", true), false), dgram(linkMsg("eth0", false)));
  const e = await mon.next(1000);
  expect(e).toEqual(expect.objectContaining({ kind: "link", op: "new" }));
  expect(e?.kind === "link" && e.link.name).toBe("eth0");
  expect(e?.kind === "link" && e.link.up).toBe(false);
  await mon.close();
  expect(await mon.next()).toBeNull();
});

test("a full queue drops the oldest events and reports an overrun first", async () => {
  const t = new ScriptedTransport();
  const mon = new RtnlMonitor(t, [1], { maxQueued: 3 });
  t.deliver(...[0, 1, 2, 3, 4].map((i) => dgram(linkMsg(`eth${i}`, true))));
  // Let the monitor drain with nobody reading, so the queue bound applies.
  for (let i = 0; i < 100 && t.queue.length > 0; i++) await Promise.resolve();
  expect(t.queue.length).toBe(0);
  const first = await mon.next(1000);
  expect(first).toEqual({ kind: "overrun", reason: expect.stringContaining("2 events dropped") });
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const e = await mon.next(1000);
    if (e?.kind === "link") names.push(e.link.name);
  }
  expect(names).toEqual(["eth2", "eth3", "eth4"]);
  await mon.close();
});

test("kernel overrun and garbage become events; a fatal socket error ends the stream", async () => {
  const t = new ScriptedTransport();
  const mon = new RtnlMonitor(t, [1]);
  t.deliver(new NetlinkOverrunError("lost"), dgram(new Uint8Array([1, 2, 3])));
  expect((await mon.next(1000))?.kind).toBe("overrun");
  expect((await mon.next(1000))?.kind).toBe("error");
  t.deliver(new Error("socket gone"));
  const fatal = await mon.next(1000);
  expect(fatal?.kind === "error" && fatal.error.message).toBe("socket gone");
  expect(await mon.next(1000)).toBeNull();
  expect(t.closed).toBe(true);
});

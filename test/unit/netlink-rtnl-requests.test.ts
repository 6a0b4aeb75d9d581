// The exact requests Rtnetlink sends, decoded back with the schemas. This covers the link kinds the
// host kernel of the test machine lacks (vlan, dummy); test/netns checks them against a real kernel
// wherever the kernel has them.
import { describe, expect, test } from "bun:test";
import { NetlinkClient } from "../../src/netlink/client.ts";
import {
  decodeAttrs,
  decodeMessages,
  encodeMessage,
  NLM_F,
  NLMSG,
  type NlMessage,
  NlWriter,
  parseAttrs,
  readString,
} from "../../src/netlink/codec.ts";
import { Rtnetlink } from "../../src/netlink/rtnetlink.ts";
import {
  ADDR_SCHEMA,
  decodeIfAddrMsg,
  decodeIfInfoMsg,
  decodeRtMsg,
  encodeIfInfoMsg,
  IFADDRMSG_BYTES,
  IFINFOMSG_BYTES,
  LINK_SCHEMA,
  MACVLAN_SCHEMA,
  ROUTE_SCHEMA,
  RTMSG_BYTES,
  VLAN_SCHEMA,
} from "../../src/netlink/rtnl-codec.ts";
import { IFLA, RTM } from "../../src/netlink/rtnl-constants.ts";
import type { Datagram, NetlinkTransport } from "../../src/netlink/transport.ts";

/** Acks everything; answers RTM_GETLINK with link "eth0" at index 5. Records what was sent. */
class RecordingKernel implements NetlinkTransport {
  readonly localPort = 7;
  readonly sent: NlMessage[] = [];
  private readonly queue: Datagram[] = [];
  private seq = 1;
  nextSeq(): number {
    return this.seq++;
  }
  send(bytes: Uint8Array): void {
    for (const m of decodeMessages(bytes)) {
      this.sent.push(m);
      if (m.type === RTM.GETLINK) {
        const link = new NlWriter()
          .raw(encodeIfInfoMsg({ index: 5, flags: 1 }))
          .str(IFLA.IFNAME, "eth0")
          .finish();
        this.reply(encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: m.seq, portId: 0, payload: link }));
      }
      const ack = new Uint8Array(20);
      this.reply(
        encodeMessage({ type: NLMSG.ERROR, flags: NLM_F.CAPPED, seq: m.seq, portId: 0, payload: ack }),
      );
    }
  }
  private reply(data: Uint8Array): void {
    this.queue.push({ data, fromKernel: true, groups: 0 });
  }
  receive(): Datagram | null {
    return this.queue.shift() ?? null;
  }
  async waitReadable(): Promise<"readable" | "timeout"> {
    return "timeout";
  }
  addMembership(): void {}
  async close(): Promise<void> {}
  last(type: number): NlMessage {
    const m = this.sent.filter((s) => s.type === type).at(-1);
    if (!m) throw new Error(`no message of type ${type} was sent`);
    return m;
  }
}

function setup() {
  const k = new RecordingKernel();
  return { k, rt: new Rtnetlink(new NetlinkClient(k)) };
}

const linkAttrs = (m: NlMessage) => decodeAttrs(LINK_SCHEMA, m.payload.subarray(IFINFOMSG_BYTES));

describe("link requests", () => {
  test("vlan: CREATE|EXCL, name, parent index, kind vlan, VLAN id", async () => {
    const { k, rt } = setup();
    await rt.createVlan("eth0.7", "eth0", 7, { mtu: 1496 });
    const m = k.last(RTM.NEWLINK);
    expect(m.flags & (NLM_F.CREATE | NLM_F.EXCL | NLM_F.REQUEST | NLM_F.ACK)).toBe(
      NLM_F.CREATE | NLM_F.EXCL | NLM_F.REQUEST | NLM_F.ACK,
    );
    const a = linkAttrs(m);
    expect([a.ifname, a.link, a.mtu, a.linkinfo?.kind]).toEqual(["eth0.7", 5, 1496, "vlan"]);
    expect(decodeAttrs(VLAN_SCHEMA, a.linkinfo!.data!)).toEqual({ id: 7 });
  });

  test("macvlan mode and dummy kind", async () => {
    const { k, rt } = setup();
    await rt.createMacvlan("mv0", "eth0", "passthru");
    const mv = linkAttrs(k.last(RTM.NEWLINK));
    expect([mv.linkinfo?.kind, mv.link]).toEqual(["macvlan", 5]);
    expect(decodeAttrs(MACVLAN_SCHEMA, mv.linkinfo!.data!)).toEqual({ mode: 8 });
    await rt.createDummy("dum0");
    const d = linkAttrs(k.last(RTM.NEWLINK));
    expect([d.ifname, d.linkinfo?.kind, d.linkinfo?.data]).toEqual(["dum0", "dummy", undefined]);
  });

  test("veth: the peer is a nested ifinfomsg with its own name", async () => {
    const { k, rt } = setup();
    await rt.createVeth("a0", "a1", { mtu: 9000 });
    const a = linkAttrs(k.last(RTM.NEWLINK));
    expect(a.linkinfo?.kind).toBe("veth");
    const [peer] = parseAttrs(a.linkinfo!.data!);
    expect(peer?.type).toBe(1); // VETH_INFO_PEER
    // VETH_INFO_PEER holds a whole ifinfomsg followed by the peer's attributes.
    const inner = parseAttrs(peer!.data.subarray(IFINFOMSG_BYTES));
    const names = inner.filter((x) => x.type === IFLA.IFNAME).map(readString);
    expect(names).toEqual(["a1"]);
  });

  test("up/down sets IFF_UP in flags and change; MTU by name", async () => {
    const { k, rt } = setup();
    await rt.setLinkUp(5, true);
    expect(decodeIfInfoMsg(k.last(RTM.NEWLINK).payload)).toEqual(
      expect.objectContaining({ index: 5, flags: 1, change: 1 }),
    );
    await rt.setLinkUp("eth0", false);
    const down = k.last(RTM.NEWLINK);
    expect(decodeIfInfoMsg(down.payload)).toEqual(expect.objectContaining({ index: 0, flags: 0, change: 1 }));
    expect(linkAttrs(down).ifname).toBe("eth0");
    await rt.setMtu("eth0", 1400);
    expect(linkAttrs(k.last(RTM.NEWLINK)).mtu).toBe(1400);
    await expect(rt.setMtu("eth0", 20)).rejects.toThrow("bad MTU");
    await expect(rt.createDummy("this-name-is-too-long")).rejects.toThrow("bad interface name");
  });
});

describe("address and route requests", () => {
  test("IPv6 address with nodad on an index", async () => {
    const { k, rt } = setup();
    await rt.addAddress(5, "2001:db8::7/64", { noDad: true });
    const m = k.last(RTM.NEWADDR);
    expect(m.flags & (NLM_F.CREATE | NLM_F.EXCL)).toBe(NLM_F.CREATE | NLM_F.EXCL);
    expect(decodeIfAddrMsg(m.payload)).toEqual({
      family: 10,
      prefixLength: 64,
      flags: 0,
      scope: 0,
      index: 5,
    });
    const a = decodeAttrs(ADDR_SCHEMA, m.payload.subarray(IFADDRMSG_BYTES));
    expect(a.flags).toBe(0x02); // IFA_F_NODAD
    expect(a.local?.[15]).toBe(7);
  });

  test("route add with gateway, metric and a table above 255; delete matches any scope", async () => {
    const { k, rt } = setup();
    await rt.addRoute({ to: "198.51.100.0/24", via: "192.0.2.1", dev: "eth0", metric: 20, table: 1000 });
    const add = k.last(RTM.NEWROUTE);
    const h = decodeRtMsg(add.payload);
    expect([h.family, h.dstLength, h.table, h.protocol, h.scope, h.type]).toEqual([2, 24, 0, 4, 0, 1]);
    const a = decodeAttrs(ROUTE_SCHEMA, add.payload.subarray(RTMSG_BYTES));
    expect([...a.dst!]).toEqual([198, 51, 100, 0]);
    expect([...a.gateway!]).toEqual([192, 0, 2, 1]);
    expect([a.oif, a.priority, a.table]).toEqual([5, 20, 1000]);
    await rt.deleteRoute({ to: "default", via: "192.0.2.1" });
    const del = decodeRtMsg(k.last(RTM.DELROUTE).payload);
    expect([del.dstLength, del.scope, del.table]).toEqual([0, 255, 254]);
    await expect(rt.addRoute({ to: "2001:db8::/64", via: "192.0.2.1" })).rejects.toThrow(
      "mixed address families",
    );
    await expect(rt.addRoute({ to: "10.0.0.0/8" })).rejects.toThrow("needs via or dev");
  });
});

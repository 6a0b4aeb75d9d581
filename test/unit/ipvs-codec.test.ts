import { describe, expect, test } from "bun:test";
import {
  DEFAULT_DEST_OPTIONS,
  type DestSpec,
  type ServiceKey,
  type ServiceOptions,
} from "../../src/ipvs/model.ts";
import { parseAttrs } from "../../src/netlink/attrs.ts";
import { NetlinkDecodeError, NetlinkEncodeError } from "../../src/netlink/errors.ts";
import { describeOp, serviceLabel } from "../../src/netlink/ipvs.ts";
import {
  decodeDaemon,
  decodeDest,
  decodeIpvsReply,
  decodeService,
  encodeDaemon,
  encodeDest,
  encodeService,
  IPVS_CMD,
  ipvsMessage,
} from "../../src/netlink/ipvs-codec.ts";

const opts: ServiceOptions = {
  scheduler: "sh",
  persistenceTimeout: 300,
  persistenceNetmask: "255.255.255.0",
  persistenceEngine: "sip",
  onePacket: true,
  schedFallback: true,
  schedPort: false,
};
const v4: ServiceKey = { kind: "addr", family: 4, protocol: "udp", address: "192.0.2.10", port: 5060 };
const v6: ServiceKey = { kind: "addr", family: 6, protocol: "sctp", address: "2001:db8::10", port: 80 };
const fwm: ServiceKey = { kind: "fwmark", family: 4, fwmark: 42 };

function roundTripService(key: ServiceKey, o: ServiceOptions) {
  const msg = ipvsMessage(IPVS_CMD.NEW_SERVICE, { service: encodeService(key, o) });
  const { cmd, attrs } = decodeIpvsReply(msg);
  expect(cmd).toBe(IPVS_CMD.NEW_SERVICE);
  return decodeService(attrs.service!);
}

describe("IPVS codec", () => {
  test("services round-trip: addr v4, v6, fwmark, every flag", () => {
    expect(roundTripService(v4, opts)).toEqual({ key: v4, options: opts, dests: [] });
    const v6opts = { ...opts, scheduler: "mh" as const, persistenceNetmask: "64", schedPort: true };
    expect(roundTripService(v6, v6opts)).toEqual({ key: v6, options: v6opts, dests: [] });
    const plain = {
      ...opts,
      persistenceTimeout: 0,
      onePacket: false,
      schedFallback: false,
    } as ServiceOptions;
    const { persistenceEngine: _, ...noPe } = plain;
    expect(roundTripService(fwm, noPe).options).toMatchObject({ persistenceTimeout: 0, onePacket: false });
  });

  test("wire layout is what the kernel expects: genl header, 16-byte address, big-endian port", () => {
    const msg = ipvsMessage(IPVS_CMD.NEW_SERVICE, { service: encodeService(v4, opts) });
    expect([...msg.subarray(0, 4)]).toEqual([IPVS_CMD.NEW_SERVICE, 1, 0, 0]);
    const [svc] = parseAttrs(msg.subarray(4));
    expect(svc?.type).toBe(1);
    const inner = parseAttrs(svc!.data.subarray(0));
    const byType = new Map(inner.map((a) => [a.type, a.data]));
    expect([...byType.get(1)!]).toEqual([2, 0]); // AF_INET as u16
    expect([...byType.get(2)!]).toEqual([17, 0]); // IPPROTO_UDP
    expect(byType.get(3)!.byteLength).toBe(16);
    expect([...byType.get(3)!.subarray(0, 4)]).toEqual([192, 0, 2, 10]);
    expect([...byType.get(4)!]).toEqual([0x13, 0xc4]); // 5060 big-endian
    expect(new TextDecoder().decode(byType.get(6)!)).toBe("sh\0");
    expect([...byType.get(9)!]).toEqual([255, 255, 255, 0]); // netmask in network order
    const flags = new DataView(byType.get(7)!.buffer, byType.get(7)!.byteOffset);
    expect(flags.getUint32(0, true)).toBe(0x1 | 0x4 | 0x8); // persistent, one-packet, sched1
    expect(flags.getUint32(4, true) & 0x2).toBe(0); // the kernel's HASHED bit stays out of the mask
  });

  test("destinations round-trip for every method, including tunnel options and v6 real servers", () => {
    const base: DestSpec = { ...DEFAULT_DEST_OPTIONS, family: 4, address: "10.0.1.2", port: 80, weight: 7 };
    const cases: DestSpec[] = [
      { ...base, method: "nat", upperThreshold: 100, lowerThreshold: 10 },
      { ...base, method: "dr", weight: 0 },
      { ...base, method: "tun", tunnelType: "gue", tunnelPort: 6080, tunnelFlags: 1 },
      { ...base, method: "tun", tunnelType: "gre", tunnelFlags: 2 },
      { ...base, family: 6, address: "2001:db8::2", method: "tun", tunnelType: "ipip" },
    ];
    for (const d of cases) {
      const msg = ipvsMessage(IPVS_CMD.NEW_DEST, { dest: encodeDest(d) });
      const back = decodeDest(decodeIpvsReply(msg).attrs.dest!, 4);
      expect(back).toEqual({ ...d, activeConns: 0, inactiveConns: 0, persistentConns: 0 });
    }
  });

  test("sync daemon spec round-trips", () => {
    const spec = {
      state: "backup" as const,
      interface: "eth1",
      syncId: 9,
      maxLength: 1460,
      mcastGroup: "224.0.0.81",
      mcastPort: 8848,
      mcastTtl: 1,
    };
    const msg = ipvsMessage(IPVS_CMD.NEW_DAEMON, { daemon: encodeDaemon(spec) });
    expect(decodeDaemon(decodeIpvsReply(msg).attrs.daemon!)).toEqual(spec);
  });

  test("bad values are typed encode errors; garbage replies are typed decode errors", () => {
    expect(() => encodeService({ ...v4, port: 70000 }, opts)).toThrow(NetlinkEncodeError);
    expect(() => encodeService({ ...v4, address: "2001:db8::1" }, opts)).toThrow(NetlinkEncodeError);
    expect(() => encodeService(v6, { ...opts, persistenceNetmask: "129" })).toThrow(NetlinkEncodeError);
    expect(() => encodeDaemon({ state: "master", interface: "", syncId: 1 })).toThrow(NetlinkEncodeError);
    expect(() => decodeIpvsReply(new Uint8Array(2))).toThrow(NetlinkDecodeError);
    // A service with an unknown scheduler name or address family is refused, not guessed.
    const msg = ipvsMessage(IPVS_CMD.NEW_SERVICE, { service: { af: 99, schedName: "rr" } });
    expect(() => decodeService(decodeIpvsReply(msg).attrs.service!)).toThrow(NetlinkDecodeError);
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let i = 0; i < 20_000; i++) {
      const buf = new Uint8Array(4 + (rand() % 64)).map(() => rand());
      try {
        const { attrs } = decodeIpvsReply(buf);
        if (attrs.service) decodeService(attrs.service);
        if (attrs.dest) decodeDest(attrs.dest, 4);
        if (attrs.daemon) decodeDaemon(attrs.daemon);
      } catch (err) {
        expect(err).toBeInstanceOf(NetlinkDecodeError);
      }
    }
  });

  test("operations are described the way ipvsadm names things", () => {
    expect(serviceLabel(v4)).toBe("UDP  192.0.2.10:5060");
    expect(serviceLabel(v6)).toBe("SCTP  [2001:db8::10]:80");
    expect(serviceLabel(fwm)).toBe("FWM  42");
    const dest = { ...DEFAULT_DEST_OPTIONS, family: 4 as const, address: "10.0.1.2", port: 80 };
    expect(describeOp({ op: "addDest", service: v4, dest })).toBe(
      "add real server 10.0.1.2:80 to UDP  192.0.2.10:5060",
    );
  });
});

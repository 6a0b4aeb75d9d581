import { describe, expect, test } from "bun:test";
import { canonicalIP, compareIP, formatIPv6, parseCidr, parseIPv6 } from "../../src/vrrp/addr.ts";
import { decodeAdvert, encodeAdvert, internetChecksum, parseIpv4Datagram } from "../../src/vrrp/codec.ts";
import { newDropCounters, ReceiveTable, receiveIpv4, receivePayload } from "../../src/vrrp/receive.ts";
import { buildSpec } from "../../src/vrrp/spec.ts";
import type { OutgoingAdvert } from "../../src/vrrp/types.ts";
import { spec } from "./vrrp-fixtures.ts";

const v3: OutgoingAdvert = {
  version: 3,
  family: 4,
  vrid: 51,
  priority: 100,
  intervalCs: 100,
  addresses: ["10.0.0.100"],
};

function ipv4Datagram(payload: Uint8Array, src: string, dst: string, ttl = 255, proto = 112): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  b[0] = 0x45;
  b[2] = b.length >> 8;
  b[3] = b.length & 0xff;
  b[8] = ttl;
  b[9] = proto;
  b.set(src.split(".").map(Number), 12);
  b.set(dst.split(".").map(Number), 16);
  b.set(payload, 20);
  return b;
}

describe("addresses", () => {
  test("IPv6 text round trip is canonical (RFC 5952)", () => {
    expect(formatIPv6(parseIPv6("FE80:0:0:0:0:0:0:1"))).toBe("fe80::1");
    expect(formatIPv6(parseIPv6("2001:db8:0:0:1:0:0:1"))).toBe("2001:db8::1:0:0:1");
    expect(formatIPv6(parseIPv6("::"))).toBe("::");
    expect(formatIPv6(parseIPv6("::ffff:10.1.2.3"))).toBe("::ffff:a01:203");
    expect(() => parseIPv6("1::2::3")).toThrow();
    expect(() => parseIPv6("12345::")).toThrow();
  });
  test("IPv4 strictness, comparison, CIDR", () => {
    expect(() => canonicalIP("10.0.0.256")).toThrow();
    expect(() => canonicalIP("10.0.0")).toThrow();
    expect(compareIP("10.0.0.2", "10.0.0.10")).toBeLessThan(0);
    expect(parseCidr("10.0.0.1/24")).toEqual({ address: "10.0.0.1", prefix: 24, family: 4 });
    expect(parseCidr("fe80::1")).toEqual({ address: "fe80::1", prefix: 128, family: 6 });
    expect(() => parseCidr("10.0.0.1/33")).toThrow();
  });
});

describe("codec", () => {
  test("checksum of a buffer containing its own checksum is zero; odd parts pair across", () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array([4, 5, 6, 7]);
    expect(internetChecksum([a, b])).toBe(internetChecksum([new Uint8Array([1, 2, 3, 4, 5, 6, 7])]));
  });

  test("VRRPv3 IPv4 round trip with the RFC 5798 pseudo-header checksum", () => {
    const msg = encodeAdvert(v3, "10.0.0.1", "224.0.0.18");
    expect(msg.length).toBe(12);
    expect(msg[0]).toBe(0x31);
    const d = decodeAdvert(msg, 4, "10.0.0.1", "224.0.0.18");
    expect(d).toEqual({
      ok: true,
      advert: { version: 3, vrid: 51, priority: 100, intervalCs: 100, addresses: ["10.0.0.100"] },
    });
    // The pseudo-header is covered: another source or destination fails the check.
    expect(decodeAdvert(msg, 4, "10.0.0.2", "224.0.0.18")).toEqual({ ok: false, reason: "bad_checksum" });
    // ...and the v2-compat knob (no pseudo-header) rejects it too.
    expect(decodeAdvert(msg, 4, "10.0.0.1", "224.0.0.18", "v2-compat")).toEqual({
      ok: false,
      reason: "bad_checksum",
    });
  });

  test("VRRPv3 IPv4 v2-compat checksum ignores addresses", () => {
    const msg = encodeAdvert(v3, "10.0.0.1", "224.0.0.18", "v2-compat");
    expect(internetChecksum([msg])).toBe(0);
    expect(decodeAdvert(msg, 4, "1.2.3.4", "5.6.7.8", "v2-compat").ok).toBe(true);
  });

  test("VRRPv3 IPv6 always uses the IPv6 pseudo-header", () => {
    const a: OutgoingAdvert = { ...v3, family: 6, addresses: ["2001:db8::100", "fe80::100"] };
    const msg = encodeAdvert(a, "fe80::1", "ff02::12", "v2-compat");
    expect(msg.length).toBe(8 + 32);
    const d = decodeAdvert(msg, 6, "fe80::1", "ff02::12");
    expect(d.ok && d.advert.addresses).toEqual(["2001:db8::100", "fe80::100"]);
    expect(decodeAdvert(msg, 6, "fe80::2", "ff02::12").ok).toBe(false);
  });

  test("centisecond intervals down to 10 ms and up to 40.95 s", () => {
    for (const cs of [1, 7, 100, 4095]) {
      const d = decodeAdvert(
        encodeAdvert({ ...v3, intervalCs: cs }, "10.0.0.1", "224.0.0.18"),
        4,
        "10.0.0.1",
        "224.0.0.18",
      );
      expect(d.ok && d.advert.intervalCs).toBe(cs);
    }
  });

  test("VRRPv2: seconds interval, auth type 0, 8 bytes of auth data, no pseudo-header", () => {
    const msg = encodeAdvert({ ...v3, version: 2, intervalCs: 300 }, "10.0.0.1", "224.0.0.18");
    expect(msg.length).toBe(8 + 4 + 8);
    expect(msg[0]).toBe(0x21);
    expect(msg[4]).toBe(0);
    expect(msg[5]).toBe(3);
    expect(internetChecksum([msg])).toBe(0);
    const d = decodeAdvert(msg, 4, "9.9.9.9", "224.0.0.18");
    expect(d.ok && d.advert.intervalCs).toBe(300);
    // Simple-password authentication is refused (and counted), as RFC 3768 removed it.
    const auth = msg.slice();
    auth[4] = 1;
    const sum = internetChecksum([auth.fill(0, 6, 8)]);
    auth[6] = sum >> 8;
    auth[7] = sum & 0xff;
    expect(decodeAdvert(auth, 4, "10.0.0.1", "224.0.0.18")).toEqual({ ok: false, reason: "v2_auth" });
  });

  test("malformed shapes get their own reasons", () => {
    const ok = encodeAdvert(v3, "10.0.0.1", "224.0.0.18");
    const bad = (mut: (b: Uint8Array) => Uint8Array) =>
      decodeAdvert(mut(ok.slice()), 4, "10.0.0.1", "224.0.0.18");
    const set = (i: number, v: number) => (b: Uint8Array) => {
      b[i] = v;
      return b;
    };
    expect(bad((b) => b.subarray(0, 5))).toEqual({ ok: false, reason: "short" });
    expect(bad(set(0, 0x41))).toEqual({ ok: false, reason: "version" });
    expect(bad(set(0, 0x32))).toEqual({ ok: false, reason: "type" });
    expect(bad(set(3, 0))).toEqual({ ok: false, reason: "zero_addresses" });
    expect(bad(set(3, 2))).toEqual({ ok: false, reason: "short" });
    expect(bad((b) => Uint8Array.from([...b, 0, 0, 0, 0]))).toEqual({ ok: false, reason: "length" });
    expect(bad(set(9, ok[9]! ^ 1))).toEqual({ ok: false, reason: "bad_checksum" });
  });

  test("IPv4 header parsing", () => {
    const msg = encodeAdvert(v3, "10.0.0.1", "224.0.0.18");
    const p = parseIpv4Datagram(ipv4Datagram(msg, "10.0.0.1", "224.0.0.18", 64));
    expect(p.ok && p.dgram.ttl).toBe(64);
    expect(p.ok && p.dgram.src).toBe("10.0.0.1");
    expect(parseIpv4Datagram(ipv4Datagram(msg, "10.0.0.1", "224.0.0.18", 255, 6))).toEqual({
      ok: false,
      reason: "not_vrrp",
    });
    expect(parseIpv4Datagram(new Uint8Array(10))).toEqual({ ok: false, reason: "short" });
  });
});

describe("receive validation", () => {
  const s = spec({ name: "a", virtual_ipaddress: ["10.0.0.100/24", "10.0.0.101/24"] });
  const table = new ReceiveTable([s]);
  const good: OutgoingAdvert = { ...v3, addresses: ["10.0.0.100", "10.0.0.101"] };
  const rx = (a: OutgoingAdvert, ttl = 255, src = "10.0.0.2") =>
    receiveIpv4(ipv4Datagram(encodeAdvert(a, src, "224.0.0.18"), src, "224.0.0.18", ttl), "eth0", table);

  test("accepts a matching advert and names the instance", () => {
    const r = rx(good);
    expect(r.ok && r.instance).toBe("a");
    expect(r.ok && r.advert.source).toBe("10.0.0.2");
  });

  test("every RFC 5798 7.1 check has a reason", () => {
    expect(rx(good, 254)).toEqual({ ok: false, reason: "ttl" });
    expect(rx({ ...good, vrid: 52 })).toEqual({ ok: false, reason: "unknown_vrid" });
    expect(rx({ ...good, version: 2, intervalCs: 100 })).toEqual({ ok: false, reason: "version_mismatch" });
    expect(rx({ ...good, addresses: ["10.0.0.100"] })).toEqual({ ok: false, reason: "address_count" });
    expect(rx({ ...good, addresses: ["10.0.0.100", "10.0.0.102"] })).toEqual({
      ok: false,
      reason: "address_mismatch",
    });
    expect(receiveIpv4(new Uint8Array(3), "eth0", table)).toEqual({ ok: false, reason: "short" });
    expect(receiveIpv4(new Uint8Array(40), "other0", table).ok).toBe(false);
  });

  test("unicast instances accept only their peers", () => {
    const u = spec({ name: "u", unicast_peer: ["10.0.0.3"] });
    const t = new ReceiveTable([u]);
    const send = (src: string) =>
      receivePayload(4, "eth0", src, "10.0.0.1", 255, encodeAdvert(v3, src, "10.0.0.1"), t);
    expect(send("10.0.0.3").ok).toBe(true);
    expect(send("10.0.0.4")).toEqual({ ok: false, reason: "unknown_peer" });
  });

  test("v2-compat instances check the checksum without the pseudo-header", () => {
    const c = spec({ name: "c", checksum: "v2-compat" });
    const t = new ReceiveTable([c]);
    const msg = encodeAdvert(v3, "10.0.0.2", "224.0.0.18", "v2-compat");
    expect(receivePayload(4, "eth0", "10.0.0.2", "224.0.0.18", 255, msg, t).ok).toBe(true);
    const std = encodeAdvert(v3, "10.0.0.2", "224.0.0.18", "rfc5798");
    expect(receivePayload(4, "eth0", "10.0.0.2", "224.0.0.18", 255, std, t)).toEqual({
      ok: false,
      reason: "bad_checksum",
    });
  });

  test("drop counters start at zero for every reason", () => {
    const c = newDropCounters();
    expect(Object.values(c).every((v) => v === 0)).toBe(true);
    expect(c.ttl).toBe(0);
  });
});

describe("spec building", () => {
  test("keepalived defaults and ranges", () => {
    const s = spec();
    expect(s.priority).toBe(100);
    expect(s.advertIntervalCs).toBe(100);
    expect(s.preempt).toBe(true);
    expect(s.garpCount).toBe(5);
    expect(() => spec({ virtual_router_id: 0 })).toThrow(/virtual_router_id/);
    expect(() => spec({ priority: 256 })).toThrow(/priority/);
    expect(() => spec({ advert_int: 0.001 })).toThrow(/advert_int/);
    expect(() => spec({ version: 2, advert_int: 0.5 })).toThrow(/whole seconds/);
    expect(() => spec({ virtual_ipaddress: ["10.0.0.1/24", "fd00::1/64"] })).toThrow(/mixes/);
    expect(() =>
      buildSpec({ name: "x", interface: "eth0", virtual_router_id: 1, virtual_ipaddress: ["10.0.0.1"] }),
    ).toThrow(/source address/);
    expect(spec({ advert_int: 0.01 }).advertIntervalCs).toBe(1);
  });
  test("IPv6 instances need a link-local source", () => {
    expect(() => spec({ virtual_ipaddress: ["fd00::100/64"], src: "fd00::1" })).toThrow(/link-local/);
    expect(spec({ virtual_ipaddress: ["fd00::100/64"], src: "fe80::1" }).family).toBe(6);
  });
});

import { describe, expect, test } from "bun:test";
import {
  formatCidr,
  formatIp,
  formatMac,
  IpParseError,
  networkOf,
  parseCidr,
  parseIp,
  parseRouteDestination,
} from "../../src/netlink/ipaddr.ts";

describe("ipaddr", () => {
  test("IPv4 parse and format", () => {
    expect([...parseIp("192.0.2.255").bytes]).toEqual([192, 0, 2, 255]);
    expect(formatIp(parseIp("10.0.0.1").bytes)).toBe("10.0.0.1");
    for (const bad of ["256.0.0.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "", "a.b.c.d", " 1.2.3.4"]) {
      expect(() => parseIp(bad)).toThrow(IpParseError);
    }
  });

  test("IPv6 parse and canonical (RFC 5952) format, as iproute2 prints", () => {
    const cases: [string, string][] = [
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["::", "::"],
      ["::1", "::1"],
      ["fe80::", "fe80::"],
      ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of equal runs
      ["2001:db8:1:2:3:4:0:6", "2001:db8:1:2:3:4:0:6"], // a single zero group is not compressed
      ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
      ["::c000:201", "::192.0.2.1"],
    ];
    for (const [input, canonical] of cases) expect(formatIp(parseIp(input).bytes)).toBe(canonical);
    for (const bad of [
      ":::",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "g::1",
      "::1.2.3",
    ]) {
      expect(() => parseIp(bad)).toThrow(IpParseError);
    }
  });

  test("CIDR, network part and route destinations", () => {
    expect(parseCidr("192.0.2.7/24").prefixLength).toBe(24);
    expect(parseCidr("2001:db8::1").prefixLength).toBe(128);
    expect(formatCidr(networkOf(parseCidr("192.0.2.7/20")))).toBe("192.0.0.0/20");
    expect(formatCidr(networkOf(parseCidr("2001:db8:abcd:12ff::1/52")))).toBe("2001:db8:abcd:1000::/52");
    expect(formatCidr(parseRouteDestination("default", 6))).toBe("::/0");
    expect(formatCidr(parseRouteDestination("default", 4))).toBe("0.0.0.0/0");
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08x"]) {
      expect(() => parseCidr(bad)).toThrow(IpParseError);
    }
    expect(formatMac(new Uint8Array([0, 0x1b, 0x21, 0xa, 0xb, 0xff]))).toBe("00:1b:21:0a:0b:ff");
  });
});

// Address arithmetic and typo suggestions used by the config validators.
import { describe, expect, test } from "bun:test";
import { closest, editDistance } from "../../src/config/errors.ts";
import {
  cidrContains,
  formatCidr,
  formatIp,
  hasHostBits,
  netmaskToPrefix,
  networkOf,
  parseCidr,
  parseIp,
} from "../../src/config/net.ts";
import { isValidHostname, sshKeyProblem } from "../../src/config/sections/system.ts";
import { parseEd25519PublicKey } from "../../src/config/sections/update.ts";

const ip = (s: string) => {
  const r = parseIp(s);
  if (r === undefined) throw new Error(`bad test address ${s}`);
  return r;
};
const cidr = (s: string) => {
  const r = parseCidr(s);
  if (r === undefined) throw new Error(`bad test cidr ${s}`);
  return r;
};

describe("parseIp / formatIp", () => {
  test("accepts and normalises valid addresses", () => {
    const cases: Array<[string, string]> = [
      ["10.0.0.1", "10.0.0.1"],
      ["0.0.0.0", "0.0.0.0"],
      ["255.255.255.255", "255.255.255.255"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["::", "::"],
      ["::1", "::1"],
      ["fe80::1:0:0:0:1", "fe80:0:0:1::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["::ffff:10.0.0.1", "::ffff:a00:1"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ];
    for (const [input, shown] of cases) expect(formatIp(ip(input))).toBe(shown);
  });

  test("rejects malformed addresses", () => {
    for (const bad of [
      "10.0.0",
      "10.0.0.256",
      "010.0.0.1",
      "10.0.0.1.",
      "1.2.3.4/24",
      "",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "fe80::1%eth0",
      "12345::",
      "g::1",
      " 10.0.0.1",
    ]) {
      expect(parseIp(bad)).toBeUndefined();
    }
  });
});

describe("CIDR arithmetic", () => {
  test("parse, network and host bits", () => {
    expect(formatCidr(networkOf(cidr("10.9.1.5/16")))).toBe("10.9.0.0/16");
    expect(hasHostBits(cidr("10.9.1.5/16"))).toBe(true);
    expect(hasHostBits(cidr("10.9.0.0/16"))).toBe(false);
    expect(formatCidr(networkOf(cidr("2001:db8::1/64")))).toBe("2001:db8::/64");
    expect(parseCidr("10.0.0.1/33")).toBeUndefined();
    expect(parseCidr("2001:db8::/129")).toBeUndefined();
    expect(parseCidr("10.0.0.1/024")).toBeUndefined();
    expect(parseCidr("10.0.0.1")).toBeUndefined();
  });

  test("containment respects family and prefix", () => {
    expect(cidrContains(cidr("10.0.1.2/24"), ip("10.0.1.250"))).toBe(true);
    expect(cidrContains(cidr("10.0.1.2/24"), ip("10.0.2.1"))).toBe(false);
    expect(cidrContains(cidr("0.0.0.0/0"), ip("192.0.2.1"))).toBe(true);
    expect(cidrContains(cidr("0.0.0.0/0"), ip("::1"))).toBe(false);
    expect(cidrContains(cidr("2001:db8::2/64"), ip("2001:db8::ffff"))).toBe(true);
  });

  test("netmasks must be contiguous", () => {
    expect(netmaskToPrefix(ip("255.255.255.0"))).toBe(24);
    expect(netmaskToPrefix(ip("0.0.0.0"))).toBe(0);
    expect(netmaskToPrefix(ip("255.255.255.255"))).toBe(32);
    expect(netmaskToPrefix(ip("255.0.255.0"))).toBeUndefined();
  });
});

describe("typo suggestions", () => {
  test("edit distance counts a swap as one edit", () => {
    expect(editDistance("eht0", "eth0")).toBe(1);
    expect(editDistance("priorty", "priority")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  test("closest suggests only plausible typos", () => {
    const keys = ["priority", "interface", "virtual_router_id"];
    expect(closest("priorty", keys)).toBe("priority");
    expect(closest("Interface", keys)).toBe("interface");
    expect(closest("zzz", keys)).toBeUndefined();
    expect(closest("wrrr", ["rr", "wrr", "lc", "wlc"])).toBe("wrr");
  });
});

describe("value shapes", () => {
  test("hostnames", () => {
    expect(isValidHostname("lb-a.example.net")).toBe(true);
    expect(isValidHostname("a")).toBe(true);
    expect(isValidHostname("-a")).toBe(false);
    expect(isValidHostname("a_b")).toBe(false);
    expect(isValidHostname(`${"a".repeat(64)}.net`)).toBe(false);
    expect(isValidHostname("a..b")).toBe(false);
  });

  test("ssh public keys", () => {
    const good = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICZ5YemySbTzaO4wg+p+8yPvEfe9QBDj1GDzkqJ95CZJ alice@ops";
    expect(sshKeyProblem(good)).toBeUndefined();
    expect(sshKeyProblem("ssh-ed25519")).toContain("not a public key");
    expect(sshKeyProblem("ssh-dss AAAA")).toContain("unsupported key type 'ssh-dss'");
    expect(
      sshKeyProblem("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAICZ5YemySbTzaO4wg+p+8yPvEfe9QBDj1GDzkqJ95CZJ"),
    ).toContain("does not hold a ssh-rsa key (it says 'ssh-ed25519')");
    expect(sshKeyProblem("ssh-ed25519 not*base64")).toContain("not valid base64");
  });

  test("Ed25519 update keys, raw base64 and PEM", () => {
    const raw = "WbR+7bfAMJhEuebhzs6+2LEaZtTysXcsqFvwLlGEPKQ=";
    const pem =
      "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAWbR+7bfAMJhEuebhzs6+2LEaZtTysXcsqFvwLlGEPKQ=\n-----END PUBLIC KEY-----\n";
    const a = parseEd25519PublicKey(raw);
    const b = parseEd25519PublicKey(pem);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(b).toEqual(a);
    expect(parseEd25519PublicKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")).toBe(
      "only PEM blocks of type PUBLIC KEY are accepted",
    );
    expect(parseEd25519PublicKey("AAAA")).toContain("decodes to 3 bytes");
  });
});

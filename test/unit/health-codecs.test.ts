import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfigFile } from "../../src/config/load.ts";
import { DnsParseError, decodeResponse, encodeQuery } from "../../src/health/checkers/dns-codec.ts";
import { HttpResponseParser } from "../../src/health/checkers/http-parse.ts";
import {
  COM_QUIT,
  framePacket,
  handshakeResponse,
  MysqlProtocolError,
  PacketReader,
  parseError,
  parseGreeting,
} from "../../src/health/checkers/mysql-proto.ts";
import { healthSpecsFromConfig } from "../../src/health/from-config.ts";
import { toDestSpecs } from "../../src/health/pool.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("HTTP response parser", () => {
  test("content-length body split across reads", () => {
    const p = new HttpResponseParser(true);
    p.push(bytes("HTTP/1.1 200 OK\r\nContent-Le"));
    p.push(bytes("ngth: 5\r\n\r\nhel"));
    expect(p.done).toBe(false);
    p.push(bytes("lo"));
    expect(p.done).toBe(true);
    expect(p.status).toBe(200);
    expect(p.body().toString()).toBe("hello");
  });

  test("chunked body, interim 100, extensions and trailers", () => {
    const p = new HttpResponseParser(true);
    const raw =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Nope\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
    for (const ch of raw) p.push(bytes(ch)); // byte at a time
    expect(p.error).toBeNull();
    expect(p.done).toBe(true);
    expect(p.status).toBe(503);
    expect(p.body().toString()).toBe("Wikipedia");
  });

  test("body until EOF; status only when no body is needed", () => {
    const p = new HttpResponseParser(true);
    p.push(bytes("HTTP/1.0 200 OK\r\n\r\nabc"));
    expect(p.done).toBe(false);
    p.end();
    expect(p.done).toBe(true);
    expect(p.body().toString()).toBe("abc");
    const q = new HttpResponseParser(false);
    q.push(bytes("HTTP/1.1 204 No Content\r\nContent-Length: 999\r\n\r\n"));
    expect(q.done).toBe(true);
    expect(q.status).toBe(204);
  });

  test("bounded and strict: oversize, garbage, early close", () => {
    const big = new HttpResponseParser(true, { maxHeadBytes: 64, maxBodyBytes: 8 });
    big.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"));
    expect(big.error).toBe("body of 9 bytes is over the 8 byte limit");
    const head = new HttpResponseParser(true, { maxHeadBytes: 64, maxBodyBytes: 8 });
    head.push(bytes(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(100)}`));
    expect(head.error).toBe("response head too large");
    const garbage = new HttpResponseParser(true);
    garbage.push(bytes("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    expect(garbage.error).toContain("not an HTTP response");
    const chunk = new HttpResponseParser(true);
    chunk.push(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
    expect(chunk.error).toContain("bad chunk size");
    const early = new HttpResponseParser(true);
    early.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    early.end();
    expect(early.error).toBe("connection closed mid-body");
  });
});

describe("DNS codec", () => {
  const response = (rcode: number, answers: Uint8Array[]) => {
    const q = encodeQuery(0x1234, "web.example", "A");
    const out = new Uint8Array([...q, ...answers.flatMap((a) => [...a])]);
    const v = new DataView(out.buffer);
    v.setUint16(2, 0x8180 | rcode);
    v.setUint16(6, answers.length);
    return out;
  };
  // name pointer to offset 12 (the question name), type, class IN, TTL, rdata
  const rr = (type: number, rdata: number[]) =>
    new Uint8Array([0xc0, 12, 0, type, 0, 1, 0, 0, 0, 60, rdata.length >> 8, rdata.length & 255, ...rdata]);

  test("query encoding", () => {
    const q = encodeQuery(0xbeef, "www.example.com.", "AAAA");
    expect(Array.from(q.subarray(0, 12))).toEqual([0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(q.subarray(12, 29))).toBe("\x03www\x07example\x03com\x00");
    expect(Array.from(q.subarray(29))).toEqual([0, 28, 0, 1]);
    expect(() => encodeQuery(1, `${"a".repeat(64)}.com`, "A")).toThrow(DnsParseError);
  });

  test("answers of several types, compression pointers", () => {
    const res = decodeResponse(
      response(0, [
        rr(1, [10, 0, 1, 53]),
        rr(28, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]),
        rr(5, [0xc0, 12]),
        rr(15, [0, 10, 0xc0, 12]),
        rr(16, [2, 104, 105, 1, 33]),
      ]),
    );
    expect(res.id).toBe(0x1234);
    expect(res.rcode).toBe(0);
    expect(res.answers.map((a) => a.data)).toEqual([
      "10.0.1.53",
      "2001:db8::53",
      "web.example.",
      "10 web.example.",
      "hi!",
    ]);
    expect(res.answers[0]!.name).toBe("web.example.");
  });

  test("bad packets give typed errors, never a crash", () => {
    expect(() => decodeResponse(new Uint8Array(5))).toThrow(DnsParseError);
    const notResponse = encodeQuery(1, "a.b", "A");
    expect(() => decodeResponse(notResponse)).toThrow("not a response");
    const loop = response(3, [new Uint8Array([0xc0, 0x2d, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])]);
    // point the answer's name at itself
    loop[loop.length - 16 + 1] = loop.length - 16;
    expect(() => decodeResponse(loop)).toThrow(DnsParseError);
    const truncated = response(0, [rr(1, [10, 0, 1, 53])]).subarray(0, -2);
    expect(() => decodeResponse(truncated)).toThrow(DnsParseError);
    // random bytes: only DnsParseError may escape
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const len = 12 + (i % 60);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        b[j] = seed >>> 24;
      }
      b[2] = b[2]! | 0x80;
      try {
        decodeResponse(b);
      } catch (err) {
        expect(err).toBeInstanceOf(DnsParseError);
      }
    }
  });
});

describe("MySQL protocol pieces", () => {
  // A MariaDB 10.11 greeting, built field by field.
  const greeting = (() => {
    const parts: number[] = [10, ...bytes("5.5.5-10.11.19-MariaDB"), 0, 7, 0, 0, 0, ...bytes("abcdefgh"), 0];
    parts.push(0xfe, 0xf7, 45, 2, 0, 0xff, 0x81, 21, 0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0);
    parts.push(...bytes("ijklmnopqrst"), 0, ...bytes("mysql_native_password"), 0);
    return Buffer.from(parts);
  })();

  test("greeting and error packets parse", () => {
    const g = parseGreeting(greeting);
    expect(g).toMatchObject({ protocol: 10, serverVersion: "5.5.5-10.11.19-MariaDB", connectionId: 7 });
    expect(g.authPlugin).toBe("mysql_native_password");
    expect(g.capabilities & 0x80000).not.toBe(0);
    const err = Buffer.concat([Buffer.from([0xff, 0x69, 0x04]), Buffer.from("#HY000Host 'x' is blocked")]);
    expect(parseError(err)).toEqual({ code: 1129, sqlState: "HY000", message: "Host 'x' is blocked" });
    expect(() => parseGreeting(Buffer.from([9, 0]))).toThrow(MysqlProtocolError);
    expect(() => parseGreeting(Buffer.from([10, 65, 66]))).toThrow(MysqlProtocolError);
  });

  test("framing: packets split and joined across reads; bounded", () => {
    const r = new PacketReader(1024);
    const a = framePacket(0, greeting);
    const b = framePacket(1, COM_QUIT);
    const stream = Buffer.concat([a, b]);
    const got = [
      ...r.push(stream.subarray(0, 7)),
      ...r.push(stream.subarray(7, a.length + 2)),
      ...r.push(stream.subarray(a.length + 2)),
    ];
    expect(got.map((p) => p.seq)).toEqual([0, 1]);
    expect(got[1]!.payload).toEqual(COM_QUIT);
    expect(() => new PacketReader(10).push(framePacket(0, Buffer.alloc(11)))).toThrow(MysqlProtocolError);
  });

  test("login with an empty password", () => {
    const resp = handshakeResponse(parseGreeting(greeting), "fulcrum_probe");
    const flags = resp.readUInt32LE(0);
    expect(flags & 0x200).toBe(0x200); // PROTOCOL_41
    expect(flags & 0x80000).toBe(0x80000); // PLUGIN_AUTH (the server offers it)
    const userAt = 4 + 4 + 1 + 23;
    expect(resp.subarray(userAt, userAt + 14).toString()).toBe("fulcrum_probe\0");
    expect(resp[userAt + 14]).toBe(0); // zero-length auth response
    expect(resp.subarray(userAt + 15).toString()).toBe("mysql_native_password\0");
    expect(() => handshakeResponse(parseGreeting(greeting), "a\0b")).toThrow(MysqlProtocolError);
  });
});

describe("config mapping and IPVS destinations", () => {
  test("the example configs map to health specs", async () => {
    const root = join(import.meta.dir, "../../examples");
    const web = await loadConfigFile(join(root, "dr-web-a.toml"));
    if (!web.ok) throw new Error(JSON.stringify(web.errors));
    const specs = healthSpecsFromConfig(web.config);
    const http = specs.find((s) => s.name === "web-http")!;
    expect(http.reals.map((r) => [r.address, r.port, r.weight])).toEqual([
      ["10.0.1.11", 80, 100],
      ["10.0.1.12", 80, 100],
    ]);
    expect(http.reals[0]!.check).toMatchObject({
      type: "http",
      path: "/healthz",
      expect: [{ min: 200, max: 200 }],
      timeoutMs: 2000,
      intervalMs: 5000,
      rise: 2,
      fall: 3,
      port: 80,
    });
    const db = await loadConfigFile(join(root, "mysql-ha-a.toml"));
    if (!db.ok) throw new Error(JSON.stringify(db.errors));
    const checks = healthSpecsFromConfig(db.config).flatMap((s) => s.reals.map((r) => r.check));
    expect(checks.some((c) => c?.type === "mysql" && c.mode === "query" && c.maxReplicationLagS === 10)).toBe(
      true,
    );
    expect(checks.some((c) => c?.type === "mysql" && c.requireWritable)).toBe(true);
  });

  test("a pool becomes IPVS DestSpecs", () => {
    const dests = toDestSpecs([
      {
        family: 4,
        address: "10.0.1.1",
        port: 80,
        weight: 0,
        method: "dr",
        upperThreshold: 0,
        lowerThreshold: 0,
        role: "drain",
      },
    ]);
    expect(dests).toEqual([
      {
        family: 4,
        address: "10.0.1.1",
        port: 80,
        method: "dr",
        weight: 0,
        upperThreshold: 0,
        lowerThreshold: 0,
        tunnelType: "ipip",
        tunnelPort: 0,
        tunnelFlags: 0,
      },
    ]);
  });
});

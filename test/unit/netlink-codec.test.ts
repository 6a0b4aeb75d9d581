import { describe, expect, test } from "bun:test";
import {
  type AttrSchema,
  decodeAttrs,
  decodeDoneErrno,
  decodeErrorPayload,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
  encodeMessages,
  LIMITS,
  NetlinkDecodeError,
  NetlinkEncodeError,
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
  NLM_F,
  NLMSG,
  NlWriter,
  parseAttrs,
  readBe16,
  readNested,
  readNulString,
  readString,
  readU16,
  readU32,
} from "../../src/netlink/codec.ts";

const INNER = {
  port: { type: 1, kind: "be16" },
  label: { type: 2, kind: "nulstring" },
} as const satisfies AttrSchema;

const EVERY_KIND = {
  a_u8: { type: 1, kind: "u8" },
  a_u16: { type: 2, kind: "u16" },
  a_u32: { type: 3, kind: "u32" },
  a_u64: { type: 4, kind: "u64" },
  a_s8: { type: 5, kind: "s8" },
  a_s16: { type: 6, kind: "s16" },
  a_s32: { type: 7, kind: "s32" },
  a_s64: { type: 8, kind: "s64" },
  a_be16: { type: 9, kind: "be16" },
  a_be32: { type: 10, kind: "be32", netOrderFlag: true },
  a_be64: { type: 11, kind: "be64" },
  a_string: { type: 12, kind: "string" },
  a_nulstring: { type: 13, kind: "nulstring" },
  a_binary: { type: 14, kind: "binary" },
  a_flag: { type: 15, kind: "flag" },
  a_nested: { type: 16, kind: "nested", nested: INNER },
} as const satisfies AttrSchema;

describe("attributes", () => {
  test("every attribute kind round-trips through encode and decode", () => {
    const values = {
      a_u8: 0xfe,
      a_u16: 0xfedc,
      a_u32: 0xfedcba98,
      a_u64: 0xfedcba9876543210n,
      a_s8: -128,
      a_s16: -32768,
      a_s32: -2147483648,
      a_s64: -(1n << 63n),
      a_be16: 0x1234,
      a_be32: 0xc0000201,
      a_be64: 0x0102030405060708n,
      a_string: "eth0",
      a_nulstring: "grüße",
      a_binary: new Uint8Array([0, 1, 2, 255, 7]),
      a_flag: true as const,
      a_nested: { port: 443, label: "https" },
    };
    const bytes = encodeAttrs(new NlWriter(), EVERY_KIND, values).finish();
    expect(bytes.byteLength % 4).toBe(0);
    expect(decodeAttrs(EVERY_KIND, bytes)).toEqual(values);
  });

  test("byte order: be16 is big-endian on the wire; NLA_F_NET_BYTEORDER is set on request", () => {
    const bytes = new NlWriter().be16(1, 0x1234).be32(2, 0x01020304, true).u16(3, 0x1234).finish();
    const [a, b, c] = parseAttrs(bytes);
    expect([...a!.data]).toEqual([0x12, 0x34]);
    expect(a!.netByteOrder).toBe(false);
    expect([...b!.data]).toEqual([1, 2, 3, 4]);
    expect(b!.netByteOrder).toBe(true);
    expect([...c!.data]).toEqual([0x34, 0x12]);
    expect(readBe16(a!)).toBe(0x1234);
    expect(readU16(c!)).toBe(0x1234);
    // A host-order reader honours the flag.
    expect(readU32(b!)).toBe(0x01020304);
  });

  test("nested attributes carry NLA_F_NESTED and the right length", () => {
    const bytes = new NlWriter().nest(5, (w) => w.u32(1, 7).nest(2, (w2) => w2.str(1, "x"))).finish();
    const v = new DataView(bytes.buffer);
    expect(v.getUint16(0, true)).toBe(bytes.byteLength);
    expect(v.getUint16(2, true)).toBe(5 | NLA_F_NESTED);
    const [outer] = parseAttrs(bytes);
    const inner = readNested(outer!);
    expect(inner.map((a) => a.type)).toEqual([1, 2]);
    expect(readString(readNested(inner[1]!)[0]!)).toBe("x");
  });

  test("strings: NLA_STRING tolerates a missing NUL, NLA_NUL_STRING does not", () => {
    const noNul = new NlWriter().attr(1, new TextEncoder().encode("abc")).finish();
    const [a] = parseAttrs(noNul);
    expect(readString(a!)).toBe("abc");
    expect(() => readNulString(a!)).toThrow(NetlinkDecodeError);
  });

  test("unknown attribute types are skipped by the schema decoder", () => {
    const bytes = new NlWriter().u32(99, 1).u8(1, 5).finish();
    expect(decodeAttrs(EVERY_KIND, bytes)).toEqual({ a_u8: 5 });
  });

  test("wrong sizes are typed errors with the attribute offset", () => {
    const bytes = new NlWriter().u8(2, 1).u16(3, 1).finish(); // a_u16 sent as u8 (offset 0)
    try {
      decodeAttrs(EVERY_KIND, bytes);
      throw new Error("expected a decode error");
    } catch (err) {
      expect(err).toBeInstanceOf(NetlinkDecodeError);
      expect((err as NetlinkDecodeError).offset).toBe(0);
    }
  });

  test("truncated and garbage attribute buffers are typed errors", () => {
    const good = new NlWriter().u32(1, 1).str(12, "hello").finish();
    for (let cut = 1; cut < good.byteLength; cut++) {
      const part = good.subarray(0, cut);
      // Cuts at an attribute boundary are valid; every other cut must fail with a typed error.
      try {
        parseAttrs(part);
      } catch (err) {
        expect(err).toBeInstanceOf(NetlinkDecodeError);
      }
    }
    expect(() => parseAttrs(new Uint8Array([3, 0, 1, 0]))).toThrow(NetlinkDecodeError); // len < 4
    expect(() => parseAttrs(new Uint8Array([200, 0, 1, 0, 0, 0, 0, 0]))).toThrow(NetlinkDecodeError);
    expect(() => parseAttrs(new Uint8Array([8, 0]))).toThrow(NetlinkDecodeError);
  });

  test("encoder rejects out-of-range values, NULs in strings and unbalanced nests", () => {
    expect(() => new NlWriter().u8(1, 256)).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter().s16(1, 40000)).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter().u32(1, -1)).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter().u64(1, -1n)).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter().u32(1, 1.5)).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter().str(1, "a\0b")).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter().u8(0x4000, 1)).toThrow(NetlinkEncodeError);
    const w = new NlWriter();
    w.beginNest(1);
    expect(() => w.finish()).toThrow(NetlinkEncodeError);
    expect(() => new NlWriter(16, 64).attr(1, new Uint8Array(100))).toThrow(NetlinkEncodeError);
  });

  test("nesting deeper than the bound is refused on encode and decode", () => {
    const w = new NlWriter();
    expect(() => {
      for (let i = 0; i <= LIMITS.maxNestingDepth; i++) w.beginNest(1);
    }).toThrow(NetlinkEncodeError);
    // Hand-build 12 levels of nesting and decode with a self-referencing schema.
    let inner: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 12; i++) {
      const b = new Uint8Array(4 + inner.byteLength);
      new DataView(b.buffer).setUint16(0, b.byteLength, true);
      new DataView(b.buffer).setUint16(2, 1 | NLA_F_NESTED, true);
      b.set(inner, 4);
      inner = b;
    }
    const deep: { [k: string]: { type: number; kind: "nested"; nested: AttrSchema } } = {};
    deep["x"] = { type: 1, kind: "nested", nested: deep };
    expect(() => decodeAttrs(deep, inner)).toThrow(NetlinkDecodeError);
  });
});

describe("messages", () => {
  test("a message round-trips, padded to 4 bytes", () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const bytes = encodeMessage({
      type: 16,
      flags: NLM_F.REQUEST | NLM_F.ACK,
      seq: 0xffffffff,
      portId: 9,
      payload,
    });
    expect(bytes.byteLength).toBe(24);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(21);
    const [m] = decodeMessages(bytes);
    expect(m).toEqual({ type: 16, flags: 5, seq: 0xffffffff, portId: 9, payload });
  });

  test("several messages in one buffer decode in order", () => {
    const msgs = [1, 2, 3].map((i) => ({
      type: 16 + i,
      flags: 0,
      seq: i,
      portId: 0,
      payload: new Uint8Array(i),
    }));
    expect(decodeMessages(encodeMessages(msgs))).toEqual(msgs);
  });

  test("truncated messages are typed errors at every cut", () => {
    const bytes = encodeMessage({ type: 20, flags: 1, seq: 1, portId: 0, payload: new Uint8Array(12) });
    for (let cut = 1; cut < bytes.byteLength; cut++) {
      expect(() => decodeMessages(bytes.subarray(0, cut))).toThrow(NetlinkDecodeError);
    }
    const bad = bytes.slice();
    new DataView(bad.buffer).setUint32(0, 8, true); // shorter than a header
    expect(() => decodeMessages(bad)).toThrow(NetlinkDecodeError);
  });

  test("error payload: plain ack, error with capped echo and extack message/offset", () => {
    const ack = new NlWriter().raw(new Uint8Array([0, 0, 0, 0])).finish();
    const hdr = encodeMessage({
      type: 20,
      flags: 5,
      seq: 77,
      portId: 0,
      payload: new Uint8Array(8),
    }).subarray(0, 16);
    const ackPayload = new Uint8Array([...ack, ...hdr]);
    expect(
      decodeErrorPayload({ type: NLMSG.ERROR, flags: NLM_F.CAPPED, seq: 77, portId: 0, payload: ackPayload }),
    ).toEqual({ errno: 0, requestType: 20, requestSeq: 77 });

    const errCode = new Uint8Array(4);
    new DataView(errCode.buffer).setInt32(0, -17, true);
    const tlvs = new NlWriter().str(1, "Address already assigned").u32(2, 24).finish();
    const payload = new Uint8Array([...errCode, ...hdr, ...tlvs]);
    const e = decodeErrorPayload({
      type: NLMSG.ERROR,
      flags: NLM_F.CAPPED | NLM_F.ACK_TLVS,
      seq: 77,
      portId: 0,
      payload,
    });
    expect(e).toEqual({
      errno: 17,
      requestType: 20,
      requestSeq: 77,
      extackMessage: "Address already assigned",
      extackOffset: 24,
    });
    expect(() =>
      decodeErrorPayload({
        type: NLMSG.ERROR,
        flags: 0,
        seq: 1,
        portId: 0,
        payload: payload.subarray(0, 10),
      }),
    ).toThrow(NetlinkDecodeError);
  });

  test("NLMSG_DONE carries an optional error code", () => {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setInt32(0, -16, true);
    expect(decodeDoneErrno({ type: NLMSG.DONE, flags: 0, seq: 1, portId: 0, payload: p })).toBe(16);
    expect(
      decodeDoneErrno({ type: NLMSG.DONE, flags: 0, seq: 1, portId: 0, payload: new Uint8Array(4) }),
    ).toBe(0);
  });

  test("encoder rejects out-of-range header fields", () => {
    const base = { type: 16, flags: 0, seq: 0, portId: 0, payload: new Uint8Array(0) };
    expect(() => encodeMessage({ ...base, type: 0x10000 })).toThrow(NetlinkEncodeError);
    expect(() => encodeMessage({ ...base, seq: -1 })).toThrow(NetlinkEncodeError);
  });

  test("NLA_F_NET_BYTEORDER constant matches the kernel", () => {
    expect(NLA_F_NET_BYTEORDER).toBe(0x4000);
  });
});

// Feeds random and mutated buffers to every netlink decoder: the only acceptable failure is a
// NetlinkDecodeError. Deterministic (fixed seed) so a failure reproduces.
import { expect, test } from "bun:test";
import {
  type AttrSchema,
  decodeAttrs,
  decodeErrorPayload,
  decodeMessages,
  encodeMessage,
  NetlinkDecodeError,
  NLM_F,
  NLMSG,
  NlWriter,
} from "../../src/netlink/codec.ts";
import {
  decodeRtnlMessage,
  encodeIfAddrMsg,
  encodeIfInfoMsg,
  encodeRtMsg,
  LINK_SCHEMA,
} from "../../src/netlink/rtnl-codec.ts";
import { IFLA, IFLA_INFO, RTM } from "../../src/netlink/rtnl-constants.ts";

const BUFFERS = 120_000;
const SEED = Number(process.env["FULCRUM_FUZZ_SEED"] ?? 0x5eed1234);

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const recursive: { [k: string]: { type: number; kind: "nested"; nested: AttrSchema } } = {};
recursive["n1"] = { type: 1, kind: "nested", nested: recursive };
recursive["n2"] = { type: 2, kind: "nested", nested: recursive };

const GENERIC = {
  u8: { type: 3, kind: "u8" },
  u16: { type: 4, kind: "u16" },
  u32: { type: 5, kind: "u32" },
  u64: { type: 6, kind: "u64" },
  be16: { type: 7, kind: "be16" },
  str: { type: 8, kind: "nulstring" },
  flag: { type: 9, kind: "flag" },
  nest: { type: 10, kind: "nested", nested: recursive },
} as const satisfies AttrSchema;

function seeds(): Uint8Array[] {
  const msg = (type: number, flags: number, payload: Uint8Array) =>
    encodeMessage({ type, flags, seq: 1, portId: 0, payload });
  const link = new NlWriter()
    .raw(encodeIfInfoMsg({ index: 3, flags: 1 }))
    .str(IFLA.IFNAME, "eth0")
    .u32(IFLA.MTU, 1500)
    .attr(IFLA.ADDRESS, new Uint8Array([2, 0, 0, 0, 0, 1]))
    .u8(IFLA.OPERSTATE, 6)
    .nest(IFLA.LINKINFO, (w) => w.str(IFLA_INFO.KIND, "vlan").nest(IFLA_INFO.DATA, (d) => d.u16(1, 42)))
    .finish();
  const addr = new NlWriter()
    .raw(encodeIfAddrMsg({ family: 2, prefixLength: 24, flags: 0x80, scope: 0, index: 3 }))
    .attr(2, new Uint8Array([192, 0, 2, 1]))
    .attr(1, new Uint8Array([192, 0, 2, 1]))
    .str(3, "eth0")
    .u32(8, 0x80)
    .finish();
  const route = new NlWriter()
    .raw(
      encodeRtMsg({
        family: 10,
        dstLength: 64,
        srcLength: 0,
        tos: 0,
        table: 254,
        protocol: 4,
        scope: 0,
        type: 1,
        flags: 0,
      }),
    )
    .attr(1, new Uint8Array(16).fill(0x20))
    .attr(5, new Uint8Array(16).fill(0xfe))
    .u32(4, 3)
    .u32(6, 100)
    .u32(15, 254)
    .finish();
  const errPayload = new NlWriter()
    .raw(new Uint8Array([0xef, 0xff, 0xff, 0xff]))
    .raw(msg(RTM.NEWADDR, 5, new Uint8Array(0)))
    .str(1, "Address already assigned")
    .u32(2, 20)
    .finish();
  const generic = new NlWriter()
    .u8(3, 1)
    .u16(4, 2)
    .u32(5, 3)
    .u64(6, 4n)
    .be16(7, 5)
    .str(8, "x")
    .flag(9)
    .nest(10, (w) => w.nest(1, (w2) => w2.nest(2, () => {})))
    .finish();
  return [
    msg(RTM.NEWLINK, NLM_F.MULTI, link),
    msg(RTM.NEWADDR, NLM_F.MULTI, addr),
    msg(RTM.NEWROUTE, 0, route),
    msg(NLMSG.ERROR, NLM_F.CAPPED | NLM_F.ACK_TLVS, errPayload),
    msg(NLMSG.DONE, NLM_F.MULTI, new Uint8Array(4)),
    new Uint8Array([...msg(RTM.NEWLINK, 2, link), ...msg(RTM.DELADDR, 0, addr)]),
    msg(0x20, 0, generic),
  ];
}

function mutate(rand: () => number, src: Uint8Array): Uint8Array {
  const pick = Math.floor(rand() * 6);
  const b = src.slice();
  const at = () => Math.floor(rand() * Math.max(1, b.byteLength));
  switch (pick) {
    case 0: // flip bits
      for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) b[at()]! ^= 1 << Math.floor(rand() * 8);
      return b;
    case 1: // random bytes
      for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n; i++) b[at()] = Math.floor(rand() * 256);
      return b;
    case 2: // truncate
      return b.subarray(0, at());
    case 3: {
      // rewrite a 16-bit length-looking field with an interesting value
      const off = at() & ~1;
      const vals = [0, 1, 3, 4, 5, 0xffff, 0x8000, b.byteLength, b.byteLength + 4];
      if (off + 2 <= b.byteLength)
        new DataView(b.buffer).setUint16(off, vals[Math.floor(rand() * vals.length)]!, true);
      return b;
    }
    case 4: {
      // duplicate a slice into the middle
      const s = at();
      const e = Math.min(b.byteLength, s + Math.floor(rand() * 32));
      return new Uint8Array([...b.subarray(0, at()), ...b.subarray(s, e), ...b.subarray(at())]);
    }
    default: {
      // pure garbage
      const r = new Uint8Array(Math.floor(rand() * 256));
      for (let i = 0; i < r.byteLength; i++) r[i] = Math.floor(rand() * 256);
      return r;
    }
  }
}

function decodeEverything(buf: Uint8Array): void {
  for (const m of decodeMessages(buf)) {
    if (m.type === NLMSG.ERROR) decodeErrorPayload(m);
    else if (m.type >= 0x20) decodeAttrs(GENERIC, m.payload);
    else decodeRtnlMessage(m);
  }
  decodeAttrs(LINK_SCHEMA, buf);
  decodeAttrs(GENERIC, buf);
}

test(`netlink decoders survive ${BUFFERS} random and mutated buffers with only typed errors`, () => {
  const rand = prng(SEED);
  const corpus = seeds();
  for (const s of corpus) decodeEverything(s); // every seed is valid
  let typedErrors = 0;
  let accepted = 0;
  const unexpected: string[] = [];
  for (let i = 0; i < BUFFERS; i++) {
    let buf = corpus[Math.floor(rand() * corpus.length)]!;
    for (let k = 0, rounds = 1 + Math.floor(rand() * 3); k < rounds; k++) buf = mutate(rand, buf);
    try {
      decodeEverything(buf);
      accepted++;
    } catch (err) {
      if (err instanceof NetlinkDecodeError) typedErrors++;
      else if (unexpected.length < 5)
        unexpected.push(`#${i}: ${String(err)} [${Buffer.from(buf).toString("hex")}]`);
    }
  }
  console.log(`fuzz: ${BUFFERS} buffers, ${accepted} decoded, ${typedErrors} typed errors, seed ${SEED}`);
  expect(unexpected).toEqual([]);
  expect(typedErrors + accepted).toBe(BUFFERS);
  // Both outcomes must be exercised, or the mutator is not doing its job.
  expect(typedErrors).toBeGreaterThan(BUFFERS / 10);
  expect(accepted).toBeGreaterThan(BUFFERS / 100);
});

// Random and mutated packets into the receive path and, when accepted, into the core: counters rise, nothing
// throws, the core keeps its invariants. VRRP_FUZZ_PACKETS (default 1,000,000) bounds the run.
import { expect, test } from "bun:test";
import { encodeAdvert, internetChecksum } from "../../src/vrrp/codec.ts";
import { type CoreState, initialState, step } from "../../src/vrrp/core.ts";
import {
  type DropCounters,
  newDropCounters,
  ReceiveTable,
  receiveIpv4,
  receivePayload,
} from "../../src/vrrp/receive.ts";
import type { OutgoingAdvert } from "../../src/vrrp/types.ts";
import { spec } from "./vrrp-fixtures.ts";
import { prng } from "./vrrp-sim-harness.ts";

const PACKETS = Number(process.env["VRRP_FUZZ_PACKETS"] ?? 1_000_000);

function ipv4(payload: Uint8Array, src: Uint8Array, ttl: number): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  b[0] = 0x45;
  b[2] = b.length >> 8;
  b[3] = b.length & 0xff;
  b[8] = ttl;
  b[9] = 112;
  b.set(src, 12);
  b.set([224, 0, 0, 18], 16);
  b.set(payload, 20);
  return b;
}

/** Now and then damage the IP header itself (protocol, lengths, version). */
function mutateHeader(pkt: Uint8Array, rng: () => number): Uint8Array {
  if (rng() < 0.04) pkt[Math.floor(rng() * 20)] = (rng() * 256) | 0;
  if (rng() < 0.01) pkt[9] = (rng() * 256) | 0;
  return pkt;
}

test(`fuzz: ${PACKETS} random and mutated packets`, () => {
  const rng = prng(0xf0c0);
  const v4 = spec({ name: "v4", virtual_ipaddress: ["10.0.0.100/24", "10.0.0.101/24"] });
  const v2 = spec({ name: "v2", virtual_router_id: 52, version: 2, advert_int: 1 });
  const v6 = spec({ name: "v6", virtual_router_id: 51, virtual_ipaddress: ["fd00::100/64"], src: "fe80::1" });
  const table = new ReceiveTable([v4, v2, v6]);
  let core: CoreState = initialState([v4, v2, v6]);
  let now = 0;
  core = step(core, { kind: "start" }, now).state;
  const seeds: Uint8Array[] = [];
  const base: OutgoingAdvert = {
    version: 3,
    family: 4,
    vrid: 51,
    priority: 100,
    intervalCs: 100,
    addresses: ["10.0.0.100", "10.0.0.101"],
  };
  seeds.push(encodeAdvert(base, "10.0.0.2", "224.0.0.18"));
  seeds.push(
    encodeAdvert({ ...base, vrid: 52, version: 2, addresses: ["10.0.0.100"] }, "10.0.0.2", "224.0.0.18"),
  );
  const v6seed = encodeAdvert({ ...base, family: 6, addresses: ["fd00::100"] }, "fe80::2", "ff02::12");
  const counters: DropCounters = newDropCounters();
  let accepted = 0;
  const src = new Uint8Array([10, 0, 0, 2]);
  const t0 = performance.now();
  for (let i = 0; i < PACKETS; i++) {
    const mode = rng();
    let msg: Uint8Array;
    const isV6 = i % 5 === 0;
    if (mode < 0.25) {
      msg = new Uint8Array(Math.floor(rng() * 64));
      for (let j = 0; j < msg.length; j++) msg[j] = (rng() * 256) | 0;
    } else {
      const seed = isV6 ? v6seed : seeds[i & 1]!;
      msg = seed.slice(0, mode < 0.3 ? Math.floor(rng() * (seed.length + 1)) : seed.length);
      const flips = 1 + Math.floor(rng() * 3);
      if (mode > 0.35)
        for (let f = 0; f < flips && msg.length; f++) msg[Math.floor(rng() * msg.length)] = (rng() * 256) | 0;
      // Some mutations keep a valid checksum, so the deeper checks (VRID, counts, versions) are reached.
      if (mode > 0.85 && msg.length >= 8 && !isV6) {
        msg[6] = 0;
        msg[7] = 0;
        const pseudo = new Uint8Array([
          10,
          0,
          0,
          2,
          224,
          0,
          0,
          18,
          0,
          112,
          msg.length >> 8,
          msg.length & 0xff,
        ]);
        const sum = internetChecksum(msg[0]! >> 4 === 2 ? [msg] : [pseudo, msg]);
        msg[6] = sum >> 8;
        msg[7] = sum & 0xff;
      }
    }
    const ttl = rng() < 0.05 ? (rng() * 256) | 0 : 255;
    const r = isV6
      ? receivePayload(6, "eth0", "fe80::2", "ff02::12", ttl, msg, table)
      : receiveIpv4(rng() < 0.02 ? msg : mutateHeader(ipv4(msg, src, ttl), rng), "eth0", table);
    if (r.ok) {
      accepted++;
      now += 1;
      const res = step(core, { kind: "packet", instance: r.instance, advert: r.advert }, now);
      core = res.state;
      if (res.wakeAtMs <= now) core = step(core, { kind: "tick" }, res.wakeAtMs).state;
    } else counters[r.reason]++;
  }
  const ms = performance.now() - t0;
  const dropped = Object.values(counters).reduce((a, b) => a + b, 0);
  console.log(`vrrp fuzz: ${PACKETS} packets in ${ms.toFixed(0)} ms, accepted ${accepted}, drops`, counters);
  expect(dropped + accepted).toBe(PACKETS);
  for (const reason of [
    "short",
    "version",
    "type",
    "bad_checksum",
    "ttl",
    "unknown_vrid",
    "not_vrrp",
  ] as const) {
    expect(counters[reason]).toBeGreaterThan(0);
  }
  expect(counters.internal).toBe(0);
  expect(accepted).toBeGreaterThan(0);
}, 120_000);

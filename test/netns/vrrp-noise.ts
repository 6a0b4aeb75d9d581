// Sends random and mutated VRRP packets on a link through a real raw socket (run inside a namespace):
//   bun test/netns/vrrp-noise.ts IFNAME SRC COUNT SEED
// A tenth go out with TTL 64; the rest with 255. Well-formed adverts that would win an election are
// skipped (they are not noise). Prints {"sent":N} on stdout.
import { IP_OPT, SOL } from "../../ffi/constants.ts";
import { setsockopt } from "../../ffi/libc.ts";
import { closeSocket, openVrrpSocket, sendVrrp } from "../../ffi/rawsock.ts";
import { parseIP } from "../../src/vrrp/addr.ts";
import { decodeAdvert, encodeAdvert } from "../../src/vrrp/codec.ts";
import { prng } from "../unit/vrrp-sim-harness.ts";

const [ifname = "eth0", src = "", countText = "1000", seedText = "1"] = process.argv.slice(2);
const count = Math.min(1_000_000, Number(countText));
const rng = prng(Number(seedText));
const sock = openVrrpSocket(ifname, 4, false);
const group = parseIP("224.0.0.18");
const source = parseIP(src);
const base = encodeAdvert(
  { version: 3, family: 4, vrid: 51, priority: 50, intervalCs: 10, addresses: ["10.85.0.100"] },
  src,
  "224.0.0.18",
);
let sent = 0;
for (let i = 0; i < count; i++) {
  const lowTtl = i % 10 === 0;
  if (i % 10 === 0 || i % 10 === 1) setsockopt(sock.fd, SOL.IP, IP_OPT.MULTICAST_TTL, lowTtl ? 64 : 255);
  let msg: Uint8Array;
  const mode = rng();
  if (mode < 0.3) {
    msg = new Uint8Array(Math.floor(rng() * 60));
    for (let j = 0; j < msg.length; j++) msg[j] = (rng() * 256) | 0;
  } else {
    msg = base.slice(0, mode < 0.4 ? Math.floor(rng() * base.length) : base.length);
    const flips = 1 + Math.floor(rng() * 3);
    for (let f = 0; f < flips && msg.length; f++) msg[Math.floor(rng() * msg.length)] = (rng() * 256) | 0;
  }
  // A mutation can yield a correct advert with a higher priority (one byte lane of the checksum
  // compensates with probability 1/256): that is a legitimate master, not noise. Leave those out.
  const d = decodeAdvert(msg, 4, src, "224.0.0.18");
  if (d.ok && d.advert.priority > 50) continue;
  try {
    // The socket is nonblocking: when its send buffer is full, wait a moment and retry (bounded).
    for (let attempt = 0; attempt < 200; attempt++) {
      if (sendVrrp(sock, msg, source, group)) {
        sent++;
        break;
      }
      Bun.sleepSync(1);
    }
  } catch {
    // e.g. an empty payload; keep going
  }
}
closeSocket(sock.fd);
process.stdout.write(`${JSON.stringify({ sent })}\n`);

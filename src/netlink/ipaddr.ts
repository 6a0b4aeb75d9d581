// IPv4/IPv6 addresses and CIDR prefixes as bytes, parsed strictly and printed canonically (RFC 5952).

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  readonly prefixLength: number;
}

export class IpParseError extends Error {
  override readonly name = "IpParseError";
}

const V4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseV4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => V4_PART.test(p))) return null;
  return new Uint8Array(parts.map(Number));
}

function parseV6(s: string): Uint8Array | null {
  if (s.length > 45 || !/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        out.push(Number.parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

export function parseIp(s: string): IpAddress {
  const v4 = parseV4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = s.includes(":") ? parseV6(s) : null;
  if (v6) return { family: 6, bytes: v6 };
  throw new IpParseError(`not an IP address: ${JSON.stringify(s)}`);
}

/** "192.0.2.1/24" or "2001:db8::1/64"; a bare address gets the full-length prefix. */
export function parseCidr(s: string): IpPrefix {
  const slash = s.indexOf("/");
  const addr = parseIp(slash < 0 ? s : s.slice(0, slash));
  const max = addr.family === 4 ? 32 : 128;
  if (slash < 0) return { ...addr, prefixLength: max };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max)
    throw new IpParseError(`bad prefix length in ${JSON.stringify(s)}`);
  return { ...addr, prefixLength: Number(p) };
}

/** "default" (any family) maps to 0.0.0.0/0 or ::/0 depending on familyHint. */
export function parseRouteDestination(s: string, familyHint: IpFamily): IpPrefix {
  if (s === "default")
    return { family: familyHint, bytes: new Uint8Array(familyHint === 4 ? 4 : 16), prefixLength: 0 };
  return parseCidr(s);
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.byteLength === 4) return Array.from(bytes).join(".");
  if (bytes.byteLength !== 16) throw new IpParseError(`address of ${bytes.byteLength} bytes`);
  const g = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  // Like glibc's inet_ntop (and so iproute2): IPv4-mapped and -compatible addresses end in dotted quad.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
    const v4 = Array.from(bytes.subarray(12)).join(".");
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function formatCidr(p: IpPrefix): string {
  return `${formatIp(p.bytes)}/${p.prefixLength}`;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

/** The network part of a prefix (host bits cleared). */
export function networkOf(p: IpPrefix): IpPrefix {
  const out = p.bytes.slice();
  for (let bit = p.prefixLength; bit < out.byteLength * 8; bit++) {
    out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return { family: p.family, bytes: out, prefixLength: p.prefixLength };
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

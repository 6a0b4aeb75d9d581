// IP address text <-> bytes for the VRRP codec and core. Strict: anything that is not a plain dotted quad
// or an RFC 4291 text address is refused with a typed error, so a bad address never reaches a socket.

export type Family = 4 | 6;

export class AddressError extends Error {
  override readonly name = "AddressError";
}

export function parseIPv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new AddressError(`not an IPv4 address: ${text}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) throw new AddressError(`not an IPv4 address: ${text}`);
    const v = Number(p);
    if (v > 255) throw new AddressError(`not an IPv4 address: ${text}`);
    out[i] = v;
  }
  return out;
}

export function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) takes the last 32 bits.
  let tail: Uint8Array | undefined;
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.indexOf(".", lastColon) > lastColon) {
    tail = parseIPv4(body.slice(lastColon + 1));
    body = body.slice(0, lastColon + 1) + "0:0";
  }
  const halves = body.split("::");
  if (halves.length > 2) throw new AddressError(`not an IPv6 address: ${text}`);
  const group = (s: string): number[] => (s === "" ? [] : s.split(":").map((g) => parseGroup(g, text)));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) {
    throw new AddressError(`not an IPv6 address: ${text}`);
  }
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest];
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

function parseGroup(g: string, text: string): number {
  if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new AddressError(`not an IPv6 address: ${text}`);
  return Number.parseInt(g, 16);
}

export function familyOf(text: string): Family {
  return text.includes(":") ? 6 : 4;
}

export function parseIP(text: string): Uint8Array {
  return familyOf(text) === 4 ? parseIPv4(text) : parseIPv6(text);
}

export function formatIPv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/** RFC 5952 canonical text: lower case, longest run of two or more zero groups shortened to "::". */
export function formatIPv6(b: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[offset + 2 * i]! << 8) | b[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(":");
  const left = groups.slice(0, bestStart).map(hex).join(":");
  const right = groups
    .slice(bestStart + bestLen)
    .map(hex)
    .join(":");
  return `${left}::${right}`;
}

export function formatIP(b: Uint8Array, family: Family, offset = 0): string {
  return family === 4 ? formatIPv4(b, offset) : formatIPv6(b, offset);
}

/** Canonical text of an address (so "10.0.0.01"-style or mixed-case inputs compare equal). */
export function canonicalIP(text: string): string {
  const f = familyOf(text);
  return formatIP(parseIP(text), f);
}

/** Byte-wise comparison of two addresses of one family: the RFC 5798 tie-break on equal priority. */
export function compareIP(a: string, b: string): number {
  const x = parseIP(a);
  const y = parseIP(b);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - y[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** "10.0.0.1/24" -> { address: "10.0.0.1", prefix: 24 }; a bare address gets the host prefix. */
export function parseCidr(text: string): { address: string; prefix: number; family: Family } {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = familyOf(addr);
  const max = family === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))
  ) {
    throw new AddressError(`bad prefix length in ${text}`);
  }
  return { address: canonicalIP(addr), prefix, family };
}

export function isIPv6LinkLocal(text: string): boolean {
  const b = parseIPv6(text);
  return b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}

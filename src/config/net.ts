// IP address and CIDR arithmetic for validation: parse strictly (no octal, no zone ids, no
// shorthand like "10.1"), normalise to the RFC 5952 text form, and test subnet membership.

export type Family = 4 | 6;

export interface IpAddr {
  readonly family: Family;
  readonly value: bigint;
}

export interface Cidr {
  readonly addr: IpAddr;
  readonly prefix: number;
}

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const V6_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function parseIpv4(text: string): IpAddr | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return { family: 4, value };
}

export function parseIpv6(text: string): IpAddr | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const toGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let k = 0; k < items.length; k++) {
      const item = items[k] ?? "";
      if (k === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (v4 === undefined) return undefined;
        out.push(Number(v4.value >> 16n), Number(v4.value & 0xffffn));
      } else if (V6_GROUP.test(item)) {
        out.push(Number.parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = toGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? toGroups(halves[1] ?? "") : [];
  if (head === undefined || tail === undefined) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return { family: 6, value };
}

export function parseIp(text: string): IpAddr | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/** "10.0.1.10/24" (host bits allowed, as on an interface); undefined if malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const addr = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (addr === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bitsOf(addr.family)) return undefined;
  return { addr, prefix };
}

function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefix))) & all;
}

export function networkOf(c: Cidr): Cidr {
  return {
    addr: { family: c.addr.family, value: c.addr.value & maskOf(c.addr.family, c.prefix) },
    prefix: c.prefix,
  };
}

export function hasHostBits(c: Cidr): boolean {
  return networkOf(c).addr.value !== c.addr.value;
}

export function cidrContains(net: Cidr, ip: IpAddr): boolean {
  if (net.addr.family !== ip.family) return false;
  const mask = maskOf(ip.family, net.prefix);
  return (net.addr.value & mask) === (ip.value & mask);
}

export function sameIp(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && a.value === b.value;
}

export function formatIp(ip: IpAddr): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let k = 7; k >= 0; k--) groups.push(Number((ip.value >> BigInt(k * 16)) & 0xffffn));
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && groups[end] === 0) end++;
    if (end - k > bestLen) {
      bestStart = k;
      bestLen = end - k;
    }
    k = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.addr)}/${c.prefix}`;
}

/** 255.255.255.0 -> 24; undefined if the mask is not contiguous. */
export function netmaskToPrefix(mask: IpAddr): number | undefined {
  if (mask.family !== 4) return undefined;
  for (let p = 0; p <= 32; p++) if (maskOf(4, p) === mask.value) return p;
  return undefined;
}

export function isLoopback(ip: IpAddr): boolean {
  return ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n;
}

export function isLinkLocalV6(ip: IpAddr): boolean {
  return ip.family === 6 && ip.value >> 118n === 0x3fan;
}

export function isUnspecified(ip: IpAddr): boolean {
  return ip.value === 0n;
}

export function isMulticast(ip: IpAddr): boolean {
  return ip.family === 4 ? ip.value >> 28n === 0xen : ip.value >> 120n === 0xffn;
}

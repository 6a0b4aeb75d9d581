// The little of DNS (RFC 1035) a health check needs, sans-I/O: build one query, parse one response
// (header, rcode, answers as text). Every read is bounds-checked; a bad packet gives a DnsParseError.
import { formatIp } from "../../netlink/ipaddr.ts";
import type { DnsRcode, DnsRecordType } from "../types.ts";

export class DnsParseError extends Error {
  override readonly name = "DnsParseError";
}

export const RECORD_TYPE_CODES: Record<DnsRecordType, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
};

const RCODE_NAMES: readonly string[] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

export function rcodeName(code: number): DnsRcode | `RCODE${number}` {
  return (RCODE_NAMES[code] as DnsRcode | undefined) ?? `RCODE${code}`;
}

export function encodeQuery(
  id: number,
  name: string,
  type: DnsRecordType,
  recursionDesired = true,
): Uint8Array {
  const labels = name
    .replace(/\.$/, "")
    .split(".")
    .filter((l) => l !== "");
  const qname: number[] = [];
  for (const label of labels) {
    const bytes = new TextEncoder().encode(label);
    if (bytes.length > 63) throw new DnsParseError(`label '${label}' longer than 63 bytes`);
    qname.push(bytes.length, ...bytes);
  }
  qname.push(0);
  if (qname.length > 255) throw new DnsParseError("name longer than 255 bytes");
  const out = new Uint8Array(12 + qname.length + 4);
  const v = new DataView(out.buffer);
  v.setUint16(0, id & 0xffff);
  v.setUint16(2, recursionDesired ? 0x0100 : 0);
  v.setUint16(4, 1); // QDCOUNT
  out.set(qname, 12);
  v.setUint16(12 + qname.length, RECORD_TYPE_CODES[type]);
  v.setUint16(12 + qname.length + 2, 1); // class IN
  return out;
}

export interface DnsAnswer {
  readonly name: string;
  readonly type: number;
  /** text form: dotted quad, RFC 5952 IPv6, names with a trailing dot, TXT joined */
  readonly data: string;
}

export interface DnsResponse {
  readonly id: number;
  readonly truncated: boolean;
  readonly rcode: number;
  readonly answers: readonly DnsAnswer[];
}

const MAX_RECORDS = 256;

export function decodeResponse(bytes: Uint8Array): DnsResponse {
  if (bytes.length < 12)
    throw new DnsParseError(`response of ${bytes.length} bytes is shorter than a header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = v.getUint16(0);
  const flags = v.getUint16(2);
  if ((flags & 0x8000) === 0) throw new DnsParseError("not a response (QR = 0)");
  const qd = v.getUint16(4);
  const an = v.getUint16(6);
  if (qd > 16 || an > MAX_RECORDS) throw new DnsParseError("too many records");
  let off = 12;
  for (let i = 0; i < qd; i++) {
    off = readName(bytes, off).next + 4;
    if (off > bytes.length) throw new DnsParseError("question runs past the end");
  }
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < an; i++) {
    const n = readName(bytes, off);
    off = n.next;
    if (off + 10 > bytes.length) throw new DnsParseError("answer header runs past the end");
    const type = v.getUint16(off);
    const rdlen = v.getUint16(off + 8);
    const rdata = off + 10;
    if (rdata + rdlen > bytes.length) throw new DnsParseError("answer data runs past the end");
    answers.push({ name: n.name, type, data: rdataText(bytes, type, rdata, rdlen) });
    off = rdata + rdlen;
  }
  return { id, truncated: (flags & 0x0200) !== 0, rcode: flags & 0x000f, answers };
}

function readName(bytes: Uint8Array, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let off = start;
  let next = -1;
  for (let jumps = 0; ; ) {
    if (off >= bytes.length) throw new DnsParseError("name runs past the end");
    const len = bytes[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= bytes.length) throw new DnsParseError("compression pointer runs past the end");
      if (++jumps > 32) throw new DnsParseError("compression loop");
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | bytes[off + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsParseError(`bad label length byte 0x${len.toString(16)}`);
    if (off + 1 + len > bytes.length) throw new DnsParseError("label runs past the end");
    labels.push(new TextDecoder().decode(bytes.subarray(off + 1, off + 1 + len)));
    off += 1 + len;
  }
  return { name: `${labels.join(".")}.`, next: next < 0 ? off : next };
}

function rdataText(bytes: Uint8Array, type: number, off: number, len: number): string {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 1:
      if (len !== 4) throw new DnsParseError("A record is not 4 bytes");
      return Array.from(bytes.subarray(off, off + 4)).join(".");
    case 28:
      if (len !== 16) throw new DnsParseError("AAAA record is not 16 bytes");
      return formatIp(bytes.subarray(off, off + 16));
    case 2:
    case 5:
    case 12:
      return readName(bytes, off).name;
    case 15:
      return `${v.getUint16(off)} ${readName(bytes, off + 2).name}`;
    case 33:
      return `${v.getUint16(off)} ${v.getUint16(off + 2)} ${v.getUint16(off + 4)} ${readName(bytes, off + 6).name}`;
    case 16: {
      const parts: string[] = [];
      for (let p = off; p < off + len; ) {
        const l = bytes[p]!;
        parts.push(new TextDecoder().decode(bytes.subarray(p + 1, p + 1 + l)));
        p += 1 + l;
      }
      return parts.join("");
    }
    case 6: {
      const mname = readName(bytes, off);
      const rname = readName(bytes, mname.next);
      return `${mname.name} ${rname.name} ${v.getUint32(rname.next)}`;
    }
    default:
      return Array.from(bytes.subarray(off, off + len), (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

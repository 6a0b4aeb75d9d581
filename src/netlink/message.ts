// Netlink message framing (struct nlmsghdr) and the error/ack payload (struct nlmsgerr + extack TLVs).
import { parseAttrs, readNulString, readU32 } from "./attrs.ts";
import { LIMITS, NLM_F, NLMSG_HDRLEN, NLMSGERR_ATTR } from "./constants.ts";
import { NetlinkDecodeError, NetlinkEncodeError } from "./errors.ts";

const align4 = (n: number): number => (n + 3) & ~3;

export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly portId: number;
  /** Everything after the 16-byte header, without trailing alignment padding. */
  readonly payload: Uint8Array;
}

function checkU(n: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new NetlinkEncodeError(`${what} out of range: ${n}`);
}

/** Encodes one message, padded to 4 bytes. */
export function encodeMessage(m: NlMessage): Uint8Array {
  return encodeMessages([m]);
}

/** Encodes messages into one buffer for a single send (the kernel processes them in order); one copy each. */
export function encodeMessages(messages: readonly NlMessage[]): Uint8Array {
  let total = 0;
  for (const m of messages) total += align4(NLMSG_HDRLEN + m.payload.byteLength);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  let off = 0;
  for (const m of messages) {
    checkU(m.type, 0xffff, "message type");
    checkU(m.flags, 0xffff, "message flags");
    checkU(m.seq, 0xffffffff, "sequence number");
    checkU(m.portId, 0xffffffff, "port id");
    const len = NLMSG_HDRLEN + m.payload.byteLength;
    if (len > LIMITS.maxMessageBytes) throw new NetlinkEncodeError(`message of ${len} bytes is too large`);
    v.setUint32(off, len, true);
    v.setUint16(off + 4, m.type, true);
    v.setUint16(off + 6, m.flags, true);
    v.setUint32(off + 8, m.seq, true);
    v.setUint32(off + 12, m.portId, true);
    out.set(m.payload, off + NLMSG_HDRLEN);
    off += align4(len);
  }
  return out;
}

/** Splits a received datagram into messages; payloads are copies, safe to keep. */
export function decodeMessages(buf: Uint8Array): NlMessage[] {
  if (buf.byteLength > LIMITS.maxBufferBytes) {
    throw new NetlinkDecodeError(0, `buffer of ${buf.byteLength} bytes exceeds ${LIMITS.maxBufferBytes}`);
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlMessage[] = [];
  let off = 0;
  while (off < buf.byteLength) {
    if (out.length >= LIMITS.maxMessagesPerBuffer) {
      throw new NetlinkDecodeError(off, `more than ${LIMITS.maxMessagesPerBuffer} messages`);
    }
    if (off + NLMSG_HDRLEN > buf.byteLength) throw new NetlinkDecodeError(off, "truncated message header");
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN) throw new NetlinkDecodeError(off, `message length ${len} < ${NLMSG_HDRLEN}`);
    if (len > buf.byteLength - off) {
      throw new NetlinkDecodeError(off, `message length ${len} overruns ${buf.byteLength - off} bytes`);
    }
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      portId: v.getUint32(off + 12, true),
      payload: buf.slice(off + NLMSG_HDRLEN, off + len),
    });
    off = Math.min(buf.byteLength, off + align4(len));
  }
  return out;
}

export interface NlErrorPayload {
  /** 0 for an ack; otherwise a positive errno. */
  readonly errno: number;
  /** Header of the request this answers. */
  readonly requestType: number;
  readonly requestSeq: number;
  readonly extackMessage?: string;
  /** Byte offset into the request of the attribute the kernel complained about. */
  readonly extackOffset?: number;
  readonly missingType?: number;
}

/** Decodes the payload of an NLMSG_ERROR message (ack or error), with extended-ack TLVs if present. */
export function decodeErrorPayload(msg: NlMessage): NlErrorPayload {
  const p = msg.payload;
  if (p.byteLength < 4 + NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(NLMSG_HDRLEN, `error payload of ${p.byteLength} bytes is too short`);
  }
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const code = v.getInt32(0, true);
  if (code > 0) throw new NetlinkDecodeError(NLMSG_HDRLEN, `positive error code ${code}`);
  const requestLen = v.getUint32(4, true);
  const base = {
    errno: code === 0 ? 0 : -code,
    requestType: v.getUint16(8, true),
    requestSeq: v.getUint32(12, true),
  };
  if ((msg.flags & NLM_F.ACK_TLVS) === 0) return base;
  // The echoed request is only its header when the ack is capped (or on success).
  const echoed = (msg.flags & NLM_F.CAPPED) !== 0 ? NLMSG_HDRLEN : align4(requestLen);
  const tlvStart = 4 + echoed;
  if (tlvStart > p.byteLength) {
    throw new NetlinkDecodeError(NLMSG_HDRLEN + 4, `echoed request of ${requestLen} bytes overruns the ack`);
  }
  let extackMessage: string | undefined;
  let extackOffset: number | undefined;
  let missingType: number | undefined;
  for (const a of parseAttrs(p.subarray(tlvStart), NLMSG_HDRLEN + tlvStart)) {
    if (a.type === NLMSGERR_ATTR.MSG) extackMessage = readNulString(a);
    else if (a.type === NLMSGERR_ATTR.OFFS) extackOffset = readU32(a);
    else if (a.type === NLMSGERR_ATTR.MISS_TYPE) missingType = readU32(a);
  }
  return {
    ...base,
    ...(extackMessage !== undefined && { extackMessage }),
    ...(extackOffset !== undefined && { extackOffset }),
    ...(missingType !== undefined && { missingType }),
  };
}

/** NLMSG_DONE may carry an int error code (a dump that failed part-way). Returns a positive errno or 0. */
export function decodeDoneErrno(msg: NlMessage): number {
  if (msg.payload.byteLength < 4) return 0;
  const code = new DataView(msg.payload.buffer, msg.payload.byteOffset, 4).getInt32(0, true);
  return code < 0 ? -code : 0;
}

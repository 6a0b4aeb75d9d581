// Ancillary-data (cmsg) codec for recvmsg/sendmsg control buffers, x86-64 layout:
// struct cmsghdr { size_t len; int level; int type; } followed by data, each aligned to 8 bytes.

export interface ControlMessage {
  readonly level: number;
  readonly type: number;
  readonly data: Uint8Array;
}

const HDR = 16;
const MAX_CONTROL_MESSAGES = 64;
const align8 = (n: number) => (n + 7) & ~7;

export class CmsgError extends Error {
  override readonly name = "CmsgError";
}

/** Space a control buffer needs for one message with dataLength bytes (CMSG_SPACE). */
export function cmsgSpace(dataLength: number): number {
  return HDR + align8(dataLength);
}

export function parseControlMessages(control: Uint8Array): ControlMessage[] {
  const v = new DataView(control.buffer, control.byteOffset, control.byteLength);
  const out: ControlMessage[] = [];
  let off = 0;
  while (off + HDR <= control.byteLength) {
    if (out.length >= MAX_CONTROL_MESSAGES) throw new CmsgError("too many control messages");
    const len = Number(v.getBigUint64(off, true));
    if (len < HDR || off + len > control.byteLength) {
      throw new CmsgError(`bad cmsg length ${len} at offset ${off}`);
    }
    out.push({
      level: v.getInt32(off + 8, true),
      type: v.getInt32(off + 12, true),
      data: control.slice(off + HDR, off + len),
    });
    off += align8(len);
  }
  return out;
}

export function encodeControlMessages(messages: readonly ControlMessage[]): Uint8Array {
  if (messages.length > MAX_CONTROL_MESSAGES) throw new CmsgError("too many control messages");
  const total = messages.reduce((n, m) => n + cmsgSpace(m.data.byteLength), 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  let off = 0;
  for (const m of messages) {
    v.setBigUint64(off, BigInt(HDR + m.data.byteLength), true);
    v.setInt32(off + 8, m.level, true);
    v.setInt32(off + 12, m.type, true);
    out.set(m.data, off + HDR);
    off += cmsgSpace(m.data.byteLength);
  }
  return out;
}

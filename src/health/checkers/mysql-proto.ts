// The few MySQL/MariaDB client-server protocol packets the greeting check speaks, sans-I/O:
// framing, the server greeting (HandshakeV10), an error packet, a HandshakeResponse41 with an empty
// password, and COM_QUIT. Bounds-checked; bad bytes give a MysqlProtocolError.

export class MysqlProtocolError extends Error {
  override readonly name = "MysqlProtocolError";
}

export const CLIENT_LONG_PASSWORD = 0x1;
export const CLIENT_PROTOCOL_41 = 0x200;
export const CLIENT_SECURE_CONNECTION = 0x8000;
export const CLIENT_PLUGIN_AUTH = 0x80000;
export const MAX_PACKET = 16 * 1024 * 1024;

export interface Packet {
  readonly seq: number;
  readonly payload: Buffer;
}

/** Splits a byte stream into packets; keeps the unconsumed tail. Bounded by `maxPayload`. */
export class PacketReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxPayload = 64 * 1024) {}

  push(chunk: Uint8Array): Packet[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: Packet[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUIntLE(0, 3);
      if (len > this.maxPayload) throw new MysqlProtocolError(`packet of ${len} bytes is over the limit`);
      if (this.buf.length < 4 + len) break;
      out.push({ seq: this.buf[3]!, payload: Buffer.from(this.buf.subarray(4, 4 + len)) });
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

export function framePacket(seq: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + payload.length);
  out.writeUIntLE(payload.length, 0, 3);
  out[3] = seq & 0xff;
  out.set(payload, 4);
  return out;
}

export interface Greeting {
  readonly protocol: number;
  readonly serverVersion: string;
  readonly connectionId: number;
  readonly capabilities: number;
  readonly authPlugin: string;
}

export interface ErrorPacket {
  readonly code: number;
  readonly sqlState: string;
  readonly message: string;
}

export function isErrorPacket(p: Buffer): boolean {
  return p[0] === 0xff;
}

export function parseError(p: Buffer): ErrorPacket {
  if (p.length < 3 || p[0] !== 0xff) throw new MysqlProtocolError("not an error packet");
  const code = p.readUInt16LE(1);
  if (p[3] === 0x23 /* # */ && p.length >= 9) {
    return { code, sqlState: p.subarray(4, 9).toString("latin1"), message: p.subarray(9).toString("utf8") };
  }
  return { code, sqlState: "", message: p.subarray(3).toString("utf8") };
}

export function parseGreeting(p: Buffer): Greeting {
  if (p.length < 1) throw new MysqlProtocolError("empty greeting");
  const protocol = p[0]!;
  if (protocol !== 10) throw new MysqlProtocolError(`greeting protocol ${protocol}, expected 10`);
  const nul = p.indexOf(0, 1);
  if (nul < 0) throw new MysqlProtocolError("server version not terminated");
  const serverVersion = p.subarray(1, nul).toString("latin1");
  let off = nul + 1;
  if (off + 4 + 8 + 1 + 2 > p.length) throw new MysqlProtocolError("greeting too short");
  const connectionId = p.readUInt32LE(off);
  off += 4 + 8 + 1; // connection id, auth data part 1, filler
  let capabilities = p.readUInt16LE(off);
  off += 2;
  let authPlugin = "mysql_native_password";
  if (off + 1 + 2 + 2 + 1 + 10 <= p.length) {
    off += 1 + 2; // charset, status
    capabilities |= p.readUInt16LE(off) << 16;
    off += 2;
    const authLen = p[off]!;
    off += 1 + 10;
    if ((capabilities & CLIENT_SECURE_CONNECTION) !== 0) off += Math.max(13, authLen - 8);
    if ((capabilities & CLIENT_PLUGIN_AUTH) !== 0 && off < p.length) {
      const end = p.indexOf(0, off);
      authPlugin = p.subarray(off, end < 0 ? p.length : end).toString("latin1");
    }
  }
  return { protocol, serverVersion, connectionId, capabilities: capabilities >>> 0, authPlugin };
}

/**
 * A login with an empty password: for a check account that has no password and no privileges
 * (HAProxy's `mysql-check user`), so the server sees a complete, successful connection.
 */
export function handshakeResponse(greeting: Greeting, user: string): Buffer {
  const userBytes = Buffer.from(user, "utf8");
  if (userBytes.length > 255 || userBytes.includes(0)) throw new MysqlProtocolError("bad user name");
  const withPlugin = (greeting.capabilities & CLIENT_PLUGIN_AUTH) !== 0;
  const flags =
    CLIENT_LONG_PASSWORD |
    CLIENT_PROTOCOL_41 |
    CLIENT_SECURE_CONNECTION |
    (withPlugin ? CLIENT_PLUGIN_AUTH : 0);
  const plugin = Buffer.from(`${greeting.authPlugin}\0`, "latin1");
  const out = Buffer.alloc(4 + 4 + 1 + 23 + userBytes.length + 1 + 1 + (withPlugin ? plugin.length : 0));
  let off = 0;
  out.writeUInt32LE(flags >>> 0, off);
  off += 4;
  out.writeUInt32LE(MAX_PACKET, off);
  off += 4;
  out[off] = 45; // utf8mb4_general_ci
  off += 1 + 23;
  out.set(userBytes, off);
  off += userBytes.length + 1;
  out[off] = 0; // empty auth response
  off += 1;
  if (withPlugin) out.set(plugin, off);
  return out;
}

export const COM_QUIT = Buffer.from([0x01]);

// DNS_CHECK: one query over UDP or TCP; the rcode must be the expected one and, optionally, a given
// answer must be among the answers. The response must carry our query id (a stray packet is ignored).
import { randomInt } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, type Socket } from "node:net";
import type { Checker, DnsCheckSpec } from "../types.ts";
import { describeError, oneShot } from "./common.ts";
import { type DnsResponse, decodeResponse, encodeQuery, rcodeName } from "./dns-codec.ts";

const MAX_TCP_RESPONSE = 65535 + 2;

export const dnsChecker: Checker<DnsCheckSpec> = (spec, target, signal) => {
  let udp: UdpSocket | undefined;
  let tcp: Socket | undefined;
  const id = randomInt(0, 65536);
  return oneShot(
    signal,
    spec.timeoutMs,
    (settle) => {
      const query = encodeQuery(id, spec.name, spec.recordType);
      const judge = (bytes: Uint8Array): boolean => {
        let res: DnsResponse;
        try {
          res = decodeResponse(bytes);
        } catch (err) {
          settle(false, `bad DNS response: ${(err as Error).message}`);
          return true;
        }
        if (res.id !== id) return false; // not ours
        if (res.truncated && spec.transport === "udp" && res.answers.length === 0) {
          settle(false, "DNS response truncated (use transport tcp)");
          return true;
        }
        const [ok, reason] = verdict(spec, res);
        settle(ok, reason);
        return true;
      };
      if (spec.transport === "udp") {
        const s = createSocket(target.family === 6 ? "udp6" : "udp4");
        udp = s;
        s.on("error", (err) => settle(false, describeError(err)));
        s.on("message", (msg, rinfo) => {
          if (rinfo.address !== target.address || rinfo.port !== target.port) return;
          judge(msg);
        });
        const send = () =>
          s.send(query, target.port, target.address, (err) => err && settle(false, describeError(err)));
        if (spec.source === undefined) send();
        else s.bind({ address: spec.source, port: 0 }, send);
      } else {
        const s = createConnection({
          host: target.address,
          port: target.port,
          family: target.family,
          ...(spec.source === undefined ? {} : { localAddress: spec.source }),
        });
        tcp = s;
        let buf = Buffer.alloc(0);
        s.once("connect", () => {
          const framed = Buffer.alloc(2 + query.length);
          framed.writeUInt16BE(query.length, 0);
          framed.set(query, 2);
          s.write(framed);
        });
        s.on("data", (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          if (buf.length > MAX_TCP_RESPONSE) return settle(false, "DNS response over TCP too large");
          if (buf.length < 2) return;
          const len = buf.readUInt16BE(0);
          if (buf.length < 2 + len) return;
          if (!judge(buf.subarray(2, 2 + len))) settle(false, "DNS response with a foreign id over TCP");
        });
        s.once("end", () => settle(false, "connection closed before a DNS response"));
        s.once("error", (err) => settle(false, describeError(err)));
      }
    },
    () => {
      if (udp !== undefined) {
        udp.removeAllListeners();
        udp.on("error", () => {});
        try {
          udp.close();
        } catch {
          // already closed
        }
      }
      tcp?.removeAllListeners();
      tcp?.on("error", () => {});
      tcp?.destroy();
    },
  );
};

function verdict(spec: DnsCheckSpec, res: DnsResponse): [boolean, string] {
  const rcode = rcodeName(res.rcode);
  if (rcode !== spec.rcode) return [false, `DNS ${rcode}, expected ${spec.rcode}`];
  if (spec.answer === undefined) return [true, `DNS ${rcode}, ${res.answers.length} answer(s)`];
  const want = normalise(spec.answer);
  if (res.answers.some((a) => normalise(a.data) === want))
    return [true, `DNS ${rcode}, ${spec.answer} in answers`];
  const got = res.answers.slice(0, 3).map((a) => a.data);
  return [false, `DNS ${rcode}, ${spec.answer} not in answers [${got.join(", ")}]`];
}

function normalise(text: string): string {
  return text.trim().toLowerCase().replace(/\.$/, "");
}

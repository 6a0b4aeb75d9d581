// HTTP_GET / SSL_GET: one GET over a fresh connection; the status must be in an expected range and the
// body may have to match a regular expression or an MD5 digest (keepalived's `digest`).
// A small HTTP/1.1 client of our own rather than fetch: it binds a source address, sends the exact Host
// header and SNI asked for, and reads no more of the body than the check needs.
import { createHash } from "node:crypto";
import { createConnection, isIP, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import type { Checker, CheckTarget, HttpCheckSpec } from "../types.ts";
import { describeError, oneShot } from "./common.ts";
import { HttpResponseParser } from "./http-parse.ts";

const regexCache = new WeakMap<HttpCheckSpec, RegExp>();

function bodyRegex(spec: HttpCheckSpec): RegExp | undefined {
  if (spec.bodyRegex === undefined) return undefined;
  let re = regexCache.get(spec);
  if (re === undefined) {
    re = new RegExp(spec.bodyRegex);
    regexCache.set(spec, re);
  }
  return re;
}

export function httpRequestBytes(spec: HttpCheckSpec, host: string): Buffer {
  return Buffer.from(
    `GET ${spec.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: fulcrum-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    "latin1",
  );
}

export const httpChecker: Checker<HttpCheckSpec> = (spec, target, signal) => {
  let sock: Socket | TLSSocket | undefined;
  const needBody = spec.bodyRegex !== undefined || spec.bodyMd5 !== undefined;
  const parser = new HttpResponseParser(needBody);
  const host = hostHeader(spec, target);
  const sni = spec.sni ?? sniFromHost(spec.host);
  return oneShot(
    signal,
    spec.timeoutMs,
    (settle) => {
      const common = {
        host: target.address,
        port: target.port,
        family: target.family,
        ...(spec.source === undefined ? {} : { localAddress: spec.source }),
      };
      const judge = (): void => {
        const [ok, reason] = verdict(spec, parser, needBody);
        settle(ok, reason);
      };
      const onData = (chunk: Buffer) => {
        parser.push(chunk);
        if (parser.done) judge();
      };
      const onEnd = () => {
        parser.end();
        judge();
      };
      const request = httpRequestBytes(spec, host);
      if (spec.type === "https") {
        const t = tlsConnect({
          ...common,
          ...(sni === undefined ? {} : { servername: sni }),
          rejectUnauthorized: spec.verify,
          ALPNProtocols: ["http/1.1"],
        });
        sock = t;
        t.once("secureConnect", () => t.write(request));
      } else {
        const s = createConnection(common);
        sock = s;
        s.once("connect", () => s.write(request));
      }
      sock.on("data", onData);
      sock.once("end", onEnd);
      sock.once("error", (err) => settle(false, describeError(err)));
    },
    () => {
      sock?.removeAllListeners();
      sock?.on("error", () => {});
      sock?.destroy();
    },
  );
};

/** The Host header: the configured one, else the address (with the port when it is not the default). */
export function hostHeader(spec: HttpCheckSpec, target: CheckTarget): string {
  if (spec.host !== undefined) return spec.host;
  const addr = target.address.includes(":") ? `[${target.address}]` : target.address;
  return target.port === (spec.type === "https" ? 443 : 80) ? addr : `${addr}:${target.port}`;
}

/** SNI carries names only: a Host header that is a name (without its port) is used, an address is not. */
function sniFromHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const name = host.startsWith("[") ? host : host.replace(/:\d+$/, "");
  return isIP(name) === 0 && !name.startsWith("[") ? name : undefined;
}

function verdict(spec: HttpCheckSpec, parser: HttpResponseParser, needBody: boolean): [boolean, string] {
  if (parser.error !== null) return [false, parser.error];
  const status = parser.status ?? 0;
  const label = `HTTP ${status}`;
  if (!spec.expect.some((r) => status >= r.min && status <= r.max)) return [false, label];
  if (needBody) {
    const body = parser.body();
    const re = bodyRegex(spec);
    if (re !== undefined && !re.test(body.toString("utf8"))) {
      return [false, `${label}, body does not match /${spec.bodyRegex}/`];
    }
    if (spec.bodyMd5 !== undefined) {
      const md5 = createHash("md5").update(body).digest("hex");
      if (md5 !== spec.bodyMd5.toLowerCase())
        return [false, `${label}, body MD5 ${md5} is not the expected one`];
    }
  }
  return [true, label];
}

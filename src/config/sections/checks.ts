// Health check tables (`check = { type = "http", ... }` on a service or a real server):
// tcp, http, https, mysql, dns, exec. The check's port stays open until it is bound to a real
// server, whose port it defaults to.

import { DEFAULTS } from "../defaults.ts";
import { formatIp } from "../net.ts";
import type { PathSeg } from "../path.ts";
import {
  type Ctx,
  describe,
  isTable,
  readEnum,
  readInt,
  readList,
  readString,
  TableReader,
} from "../reader.ts";
import type { CheckConfig, CheckType, DnsRcode, DnsRecordType, StatusRange } from "../types.ts";

const CHECK_TYPES: readonly CheckType[] = ["tcp", "http", "https", "mysql", "dns", "exec"];
export const COMMON_KEYS = ["type", "interval", "timeout", "rise", "fall", "jitter", "source", "port"];
export const HTTP_KEYS = ["path", "expect", "body", "digest", "host"];
export const EXTRA_KEYS: Record<CheckType, readonly string[]> = {
  tcp: [],
  http: HTTP_KEYS,
  https: [...HTTP_KEYS, "sni", "verify"],
  mysql: ["user", "password", "query", "require_writable", "max_replication_lag"],
  dns: ["name", "record_type", "rcode", "answer", "transport"],
  exec: ["argv"],
};
export const ALL_KEYS = [...new Set([...COMMON_KEYS, ...Object.values(EXTRA_KEYS).flat()])];
const RECORD_TYPES: readonly DnsRecordType[] = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"];
const RCODES: readonly DnsRcode[] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];
const DNS_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A check as written, before it is bound to a real server (port may still be unset). */
export type CheckDraft = CheckConfig extends infer C
  ? C extends CheckConfig
    ? Omit<C, "port"> & { readonly port?: number }
    : never
  : never;

export function readCheck(
  ctx: Ctx,
  path: PathSeg[],
  raw: unknown,
  delayLoop: number,
): CheckDraft | undefined {
  if (!isTable(raw)) {
    ctx.valueError(path, `expected a check table like { type = "tcp" }, got ${describe(raw)}`);
    return undefined;
  }
  const typeOk = typeof raw["type"] === "string" && (CHECK_TYPES as readonly string[]).includes(raw["type"]);
  const type = typeOk ? (raw["type"] as CheckType) : undefined;
  const t = new TableReader(
    ctx,
    path,
    raw,
    type === undefined ? ALL_KEYS : [...COMMON_KEYS, ...EXTRA_KEYS[type]],
  );
  if (!t.require("type", ` (one of ${CHECK_TYPES.join(", ")})`)) return undefined;
  if (type === undefined) {
    readEnum(ctx, t.at("type"), t.get("type"), CHECK_TYPES, "check type");
    return undefined;
  }
  const d = DEFAULTS.check;
  const interval = t.seconds("interval", 0.1, 3600) ?? delayLoop;
  let timeout = t.seconds("timeout", 0.01, 300) ?? Math.min(d.timeout, interval);
  if (t.has("timeout") && timeout > interval) {
    ctx.valueError(
      t.at("timeout"),
      `timeout ${timeout} s is longer than the interval ${interval} s; allowed: at most the interval`,
    );
    timeout = interval;
  }
  const jitter = t.seconds("jitter", 0, 3600) ?? d.jitter;
  if (t.has("jitter") && jitter >= interval) {
    ctx.valueError(t.at("jitter"), `jitter ${jitter} s must be less than the interval ${interval} s`);
  }
  const source = t.ip("source");
  const port = t.int("port", 1, 65535);
  const common = {
    interval,
    timeout,
    rise: t.int("rise", 1, 100) ?? d.rise,
    fall: t.int("fall", 1, 100) ?? d.fall,
    jitter,
    ...(source === undefined ? {} : { source: formatIp(source) }),
    ...(port === undefined ? {} : { port }),
  };

  switch (type) {
    case "tcp":
      return { type, ...common };
    case "http":
    case "https": {
      const expectRaw = t.has("expect") ? t.get("expect") : d.http.expect;
      const expect = readExpect(ctx, t.at("expect"), expectRaw) ?? [{ min: 200, max: 299 }];
      const path = t.string("path", { nonEmpty: true }) ?? d.http.path;
      if (!path.startsWith("/")) ctx.valueError(t.at("path"), `path '${path}' must start with '/'`);
      const body = t.string("body");
      if (body !== undefined) {
        try {
          new RegExp(body);
        } catch (e) {
          const why = (e as Error).message.replace(/^Invalid regular expression: /, "");
          ctx.valueError(t.at("body"), `invalid regular expression /${body}/: ${why}`);
        }
      }
      const digest = t.string("digest");
      if (digest !== undefined && !/^[0-9a-fA-F]{32}$/.test(digest)) {
        ctx.valueError(t.at("digest"), "digest must be the 32 hex digits of the body's MD5");
      }
      const host = t.string("host", { nonEmpty: true });
      const sni = t.string("sni", { nonEmpty: true });
      return {
        type,
        ...common,
        path,
        expect,
        ...(body === undefined ? {} : { body }),
        ...(digest === undefined ? {} : { digest: digest.toLowerCase() }),
        ...(host === undefined ? {} : { host }),
        ...(sni === undefined ? {} : { sni }),
        verify: t.bool("verify") ?? d.http.verify,
      };
    }
    case "mysql": {
      t.require("user", " (the account the check logs in as)");
      const lag = t.seconds("max_replication_lag", 0, 86400);
      return {
        type,
        ...common,
        user: t.string("user", { nonEmpty: true, maxLength: 80 }) ?? "",
        password: t.string("password") ?? d.mysql.password,
        query: t.string("query", { nonEmpty: true }) ?? d.mysql.query,
        require_writable: t.bool("require_writable") ?? d.mysql.require_writable,
        ...(lag === undefined ? {} : { max_replication_lag: lag }),
      };
    }
    case "dns": {
      t.require("name", ' (the name to query, e.g. "www.example.com")');
      const name = t.string("name", { nonEmpty: true });
      if (name !== undefined && !isDnsName(name)) {
        ctx.valueError(
          t.at("name"),
          `invalid DNS name '${name}'; labels of 1..63 letters, digits, '-' or '_', 253 characters in all`,
        );
      }
      const answer = t.string("answer", { nonEmpty: true });
      return {
        type,
        ...common,
        name: name ?? "",
        record_type: t.enumOf("record_type", RECORD_TYPES, "DNS record type") ?? d.dns.record_type,
        rcode: t.enumOf("rcode", RCODES, "DNS rcode") ?? d.dns.rcode,
        ...(answer === undefined ? {} : { answer }),
        transport: t.enumOf("transport", ["udp", "tcp"] as const, "DNS transport") ?? d.dns.transport,
      };
    }
    case "exec": {
      t.require("argv", ' (e.g. ["/usr/local/bin/check-app", "--quick"])');
      return { type, ...common, argv: t.argv("argv") ?? [] };
    }
  }
}

export function isDnsName(name: string): boolean {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  return n.length >= 1 && n.length <= 253 && n.split(".").every((l) => DNS_LABEL.test(l));
}

/** expect = 200 | "200-299" | [200, 301, "400-404"] */
function readExpect(ctx: Ctx, path: PathSeg[], raw: unknown): StatusRange[] | undefined {
  const one = (p: PathSeg[], v: unknown): StatusRange | undefined => {
    if (typeof v === "number") {
      const c = readInt(ctx, p, v, 100, 599);
      return c === undefined ? undefined : { min: c, max: c };
    }
    const s = readString(ctx, p, v);
    if (s === undefined) return undefined;
    const m = /^([1-5][0-9]{2})-([1-5][0-9]{2})$/.exec(s);
    const min = Number(m?.[1]);
    const max = Number(m?.[2]);
    if (m === null || min > max) {
      ctx.valueError(p, `invalid status range '${s}'; expected a code 100..599 or a range like "200-299"`);
      return undefined;
    }
    return { min, max };
  };
  if (!Array.isArray(raw)) {
    const r = one(path, raw);
    return r === undefined ? undefined : [r];
  }
  if (raw.length === 0) {
    ctx.valueError(path, "expect needs at least one status code or range");
    return undefined;
  }
  return readList(ctx, path, raw, one);
}

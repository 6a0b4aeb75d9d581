// [services.<NAME>] (keepalived's virtual_server) and its [[services.<NAME>.real]] real servers.
// Checks that need the rest of the box (interfaces, VRRP) live in cross.ts.

import { SCHEDULERS as IPVS_SCHEDULERS } from "../../ipvs/model.ts";
import { DEFAULTS } from "../defaults.ts";
import { type Family, formatIp, type IpAddr, netmaskToPrefix, parseIpv4, sameIp } from "../net.ts";
import type { PathSeg } from "../path.ts";
import { type Ctx, describe, TableReader as Reader, type TableReader } from "../reader.ts";
import type {
  CheckConfig,
  ForwardingMethod,
  IpFamily,
  RealServerConfig,
  Scheduler,
  ServiceConfig,
  ServiceProtocol,
  SorryServerConfig,
  TunnelChecksum,
  TunnelType,
} from "../types.ts";
import { type CheckDraft, readCheck } from "./checks.ts";

export const SERVICE_KEYS = [
  "vip",
  "port",
  "fwmark",
  "family",
  "protocol",
  "scheduler",
  "sh_fallback",
  "sh_port",
  "mh_fallback",
  "mh_port",
  "ops",
  "persistence_timeout",
  "persistence_netmask",
  "persistence_prefix",
  "persistence_engine",
  "method",
  "tun_type",
  "tun_port",
  "tun_nocsum",
  "tun_csum",
  "tun_remcsum",
  "quorum",
  "hysteresis",
  "inhibit_on_failure",
  "sorry_server",
  "vrrp_instance",
  "delay_loop",
  "check",
  "real",
];
export const REAL_KEYS = ["address", "port", "weight", "method", "u_threshold", "l_threshold", "check"];
export const SORRY_KEYS = ["address", "port", "method"];
/** The kernel's schedulers: one list, kept with the IPVS model. */
export const SCHEDULERS: readonly Scheduler[] = IPVS_SCHEDULERS;
const PROTOCOLS: readonly ServiceProtocol[] = ["tcp", "udp", "sctp"];
export const METHODS: readonly ForwardingMethod[] = ["nat", "dr", "tun"];
const TUNNEL_TYPES: readonly TunnelType[] = ["ipip", "gue", "gre"];
const FAMILIES: readonly IpFamily[] = ["inet", "inet6"];
const MAX_U32 = 4294967295;
/** 31 days: far beyond any sane persistence, well inside the kernel's u32 jiffies. */
const MAX_PERSISTENCE_S = 2678400;

export interface ReadReal {
  readonly config: RealServerConfig;
  readonly ip: IpAddr;
  readonly path: PathSeg[];
}

export interface ReadService {
  readonly config: ServiceConfig;
  readonly path: PathSeg[];
  readonly vip?: IpAddr;
  readonly reals: readonly ReadReal[];
}

export function readServices(ctx: Ctx, root: TableReader): ReadService[] {
  const out: ReadService[] = [];
  for (const [name, raw, path] of root.entries("services")) {
    const s = readService(ctx, name, raw, path);
    if (s !== undefined) out.push(s);
  }
  return out;
}

function readService(ctx: Ctx, name: string, raw: unknown, path: PathSeg[]): ReadService | undefined {
  const t = Reader.open(ctx, path, raw, SERVICE_KEYS);
  if (t === undefined) return undefined;
  const d = DEFAULTS.service;

  // Identity: vip + port (+ protocol), or fwmark (+ family).
  let vip: IpAddr | undefined;
  let fwmark: number | undefined;
  let family: Family = 4;
  // undefined while the written port is invalid, so checks that depend on it stay quiet
  let port: number | undefined = 0;
  let protocol: ServiceProtocol | undefined;
  if (t.has("vip") && t.has("fwmark")) {
    ctx.keyError(
      t.at("fwmark"),
      "vip and fwmark are exclusive; a service is either vip + port or a firewall mark",
    );
  }
  if (t.has("fwmark")) {
    fwmark = t.int("fwmark", 1, MAX_U32);
    t.notAllowed(
      "port",
      "port does not apply to a fwmark service (the mark selects the traffic); set it on the real servers",
    );
    t.notAllowed("protocol", "protocol does not apply to a fwmark service (the mark selects the traffic)");
    family = (t.enumOf("family", FAMILIES, "address family") ?? d.family) === "inet" ? 4 : 6;
  } else {
    t.notAllowed(
      "family",
      "family applies only to fwmark services; a vip service takes its family from the vip",
    );
    t.require("vip", " (or 'fwmark')");
    t.require("port", " (0..65535)");
    vip = t.ip("vip");
    if (vip !== undefined) family = vip.family;
    port = t.has("port") ? t.int("port", 0, 65535) : 0;
    protocol = t.enumOf("protocol", PROTOCOLS, "protocol") ?? d.protocol;
  }

  const scheduler = t.enumOf("scheduler", SCHEDULERS, "scheduler") ?? d.scheduler;
  const flag = (key: string, only: Scheduler): boolean => {
    if (t.has(key) && scheduler !== only) {
      ctx.keyError(
        t.at(key),
        `${key} applies only to scheduler = "${only}" (this service uses '${scheduler}')`,
      );
      return false;
    }
    return t.bool(key) ?? d.flags;
  };
  const shFallback = flag("sh_fallback", "sh");
  const shPort = flag("sh_port", "sh");
  const mhFallback = flag("mh_fallback", "mh");
  const mhPort = flag("mh_port", "mh");
  const ops = t.bool("ops") ?? d.flags;
  if (ops && protocol !== "udp") {
    ctx.valueError(t.at("ops"), 'ops (one-packet scheduling) applies only to protocol = "udp"');
  }

  // Persistence.
  const persistence = t.int("persistence_timeout", 1, MAX_PERSISTENCE_S);
  if (port === 0 && vip !== undefined && t.has("port") && !t.has("persistence_timeout")) {
    ctx.valueError(t.at("port"), "port 0 (all ports) needs persistence_timeout; allowed otherwise: 1..65535");
  }
  let persistencePrefix: number | undefined;
  const needsPersistence = (key: string): boolean => {
    if (t.has(key) && !t.has("persistence_timeout")) {
      ctx.keyError(t.at(key), `${key} needs persistence_timeout`);
      return false;
    }
    return t.has(key);
  };
  if (needsPersistence("persistence_netmask")) {
    if (family !== 4) {
      ctx.keyError(
        t.at("persistence_netmask"),
        "persistence_netmask is for IPv4 services; use persistence_prefix for IPv6",
      );
    } else {
      const m = t.get("persistence_netmask");
      const prefix =
        typeof m === "string"
          ? (() => {
              const ip = parseIpv4(m);
              return ip === undefined ? undefined : netmaskToPrefix(ip);
            })()
          : undefined;
      if (prefix === undefined) {
        ctx.valueError(
          t.at("persistence_netmask"),
          `invalid netmask ${describe(m)}; expected a contiguous IPv4 mask like "255.255.255.0"`,
        );
      } else {
        persistencePrefix = prefix;
      }
    }
  }
  if (needsPersistence("persistence_prefix")) {
    if (family !== 6) {
      ctx.keyError(
        t.at("persistence_prefix"),
        "persistence_prefix is for IPv6 services; use persistence_netmask for IPv4",
      );
    } else {
      persistencePrefix = t.int("persistence_prefix", 1, 128);
    }
  }
  let engine: "sip" | undefined;
  if (needsPersistence("persistence_engine")) {
    engine = t.enumOf("persistence_engine", ["sip"] as const, "persistence engine");
    if (engine !== undefined && protocol !== "udp") {
      ctx.valueError(t.at("persistence_engine"), 'persistence_engine "sip" applies only to protocol = "udp"');
    }
  }

  // Forwarding.
  const method = t.enumOf("method", METHODS, "forwarding method") ?? d.method;
  const delayLoop = t.seconds("delay_loop", 0.1, 3600) ?? d.delay_loop;
  const serviceCheck = t.has("check") ? readCheck(ctx, t.at("check"), t.get("check"), delayLoop) : undefined;

  const reals: ReadReal[] = [];
  const realRaw = t.get("real");
  if (realRaw !== undefined && !Array.isArray(realRaw)) {
    ctx.valueError(
      t.at("real"),
      `expected [[services.${name}.real]] entries (an array of tables), got ${describe(realRaw)}`,
    );
  } else if (Array.isArray(realRaw)) {
    realRaw.forEach((r, i) => {
      const rr = readReal(ctx, [...path, "real", i], r, {
        port,
        family,
        method,
        serviceCheck,
        delayLoop,
        vip,
      });
      if (rr !== undefined) reals.push(rr);
    });
  }
  checkDuplicateReals(ctx, reals);

  const usesTun = method === "tun" || reals.some((r) => r.config.method === "tun");
  let tunType: TunnelType = d.tun_type;
  if (t.has("tun_type")) {
    if (!usesTun)
      ctx.keyError(t.at("tun_type"), `tun_type applies only when method = "tun" (here or on a real server)`);
    tunType = t.enumOf("tun_type", TUNNEL_TYPES, "tunnel type") ?? tunType;
  }
  let tunPort: number | undefined;
  if (tunType === "gue" && usesTun) {
    t.require("tun_port", ' (the GUE UDP port, for tun_type = "gue")');
    tunPort = t.int("tun_port", 1, 65535);
  } else {
    t.notAllowed("tun_port", `tun_port applies only to tun_type = "gue"`);
  }
  let tunChecksum: TunnelChecksum | undefined;
  for (const [key, value] of [
    ["tun_nocsum", "nocsum"],
    ["tun_csum", "csum"],
    ["tun_remcsum", "remcsum"],
  ] as const) {
    if (!t.has(key)) continue;
    if (tunType === "ipip" || !usesTun) {
      ctx.keyError(t.at(key), `${key} applies only to tun_type = "gue" or "gre"`);
      continue;
    }
    if (t.bool(key) !== true) continue;
    if (tunChecksum !== undefined) {
      ctx.valueError(
        t.at(key),
        `only one of tun_nocsum, tun_csum, tun_remcsum may be true (tun_${tunChecksum} is already set)`,
      );
      continue;
    }
    tunChecksum = value;
  }

  // Quorum over the sum of the weights of live real servers (keepalived's quorum/hysteresis).
  const quorum = t.int("quorum", 1, MAX_U32) ?? d.quorum;
  const hysteresis = t.int("hysteresis", 0, MAX_U32) ?? d.hysteresis;
  if (t.has("hysteresis") && hysteresis >= quorum) {
    ctx.valueError(t.at("hysteresis"), `hysteresis ${hysteresis} must be less than quorum ${quorum}`);
  }
  const totalWeight = reals.reduce((sum, r) => sum + r.config.weight, 0);
  const sorry = readSorry(t, port ?? 0, method);
  if (Array.isArray(realRaw) && reals.length > 0 && reals.length === realRaw.length && quorum > totalWeight) {
    ctx.valueError(
      t.has("quorum") ? t.at("quorum") : path,
      `quorum ${quorum} can never be met: the real servers' weights add up to ${totalWeight}`,
    );
  }
  if (realRaw === undefined && sorry === undefined) {
    ctx.tableError(path, `has no real servers; add [[services.${name}.real]] entries (or a sorry_server)`);
  } else if (Array.isArray(realRaw) && realRaw.length === 0 && sorry === undefined) {
    ctx.valueError(t.at("real"), "lists no real servers; add at least one (or a sorry_server)");
  }

  const vrrpInstance = t.string("vrrp_instance", { nonEmpty: true });
  const config: ServiceConfig = {
    name,
    ...(vip === undefined ? {} : { vip: formatIp(vip) }),
    port: port ?? 0,
    ...(fwmark === undefined ? {} : { fwmark }),
    family: family === 4 ? "inet" : "inet6",
    ...(protocol === undefined ? {} : { protocol }),
    scheduler,
    sh_fallback: shFallback,
    sh_port: shPort,
    mh_fallback: mhFallback,
    mh_port: mhPort,
    ops,
    ...(persistence === undefined ? {} : { persistence_timeout: persistence }),
    ...(persistencePrefix === undefined ? {} : { persistence_prefix: persistencePrefix }),
    ...(engine === undefined ? {} : { persistence_engine: engine }),
    method,
    tun_type: tunType,
    ...(tunPort === undefined ? {} : { tun_port: tunPort }),
    ...(tunChecksum === undefined ? {} : { tun_checksum: tunChecksum }),
    quorum,
    hysteresis,
    inhibit_on_failure: t.bool("inhibit_on_failure") ?? d.inhibit_on_failure,
    ...(sorry === undefined ? {} : { sorry_server: sorry }),
    ...(vrrpInstance === undefined ? {} : { vrrp_instance: vrrpInstance }),
    delay_loop: delayLoop,
    real: reals.map((r) => r.config),
    pos: ctx.sourcePos(path),
  };
  return { config, path, ...(vip === undefined ? {} : { vip }), reals };
}

interface RealContext {
  readonly port: number | undefined;
  readonly family: Family;
  readonly method: ForwardingMethod;
  readonly serviceCheck: CheckDraft | undefined;
  readonly delayLoop: number;
  readonly vip: IpAddr | undefined;
}

function readReal(ctx: Ctx, path: PathSeg[], raw: unknown, s: RealContext): ReadReal | undefined {
  const t = Reader.open(ctx, path, raw, REAL_KEYS);
  if (t === undefined) return undefined;
  t.require("address", " (the real server's IP address)");
  const ip = t.ip("address");
  const method = t.enumOf("method", METHODS, "forwarding method") ?? s.method;
  const port = t.has("port") ? t.int("port", 0, 65535) : s.port;
  if (
    port !== undefined &&
    s.port !== undefined &&
    t.has("port") &&
    (method === "dr" || method === "tun") &&
    s.port !== 0 &&
    port !== s.port
  ) {
    ctx.valueError(
      t.at("port"),
      `port ${port} differs from the service port ${s.port}, but ${method.toUpperCase()} cannot rewrite ports; remove it or use method = "nat"`,
    );
  }
  const weight = t.int("weight", 0, 65535) ?? DEFAULTS.real.weight;
  const u = t.int("u_threshold", 0, MAX_U32) ?? DEFAULTS.real.u_threshold;
  const l = t.int("l_threshold", 0, MAX_U32) ?? DEFAULTS.real.l_threshold;
  if (t.has("l_threshold") && u > 0 && l > u) {
    ctx.valueError(t.at("l_threshold"), `l_threshold ${l} is above u_threshold ${u}; allowed: 0..${u}`);
  } else if (t.has("l_threshold") && l > 0 && u === 0) {
    ctx.keyError(t.at("l_threshold"), "l_threshold needs u_threshold (the upper limit it resumes below)");
  }
  let check: CheckConfig | undefined;
  let draft = s.serviceCheck;
  let checkPath: PathSeg[] = [...path.slice(0, -2), "check"];
  if (t.has("check")) {
    checkPath = t.at("check");
    draft = t.get("check") === false ? undefined : readCheck(ctx, checkPath, t.get("check"), s.delayLoop);
  }
  if (draft !== undefined) {
    const checkPort = draft.port ?? port;
    if (checkPort === undefined) {
      // the port itself is already reported
    } else if (checkPort === 0) {
      ctx.tableError(
        checkPath,
        "check needs a port: the real server's port is 0 (fwmark service); set port in the check",
      );
    } else {
      check = { ...draft, port: checkPort } as CheckConfig;
    }
  }
  if (ip === undefined) return undefined;
  if (s.vip !== undefined && ip.family !== s.family && method !== "tun") {
    ctx.valueError(
      t.at("address"),
      `real server ${formatIp(ip)} is IPv${ip.family} but the service is IPv${s.family}; the kernel allows mixed families only with method = "tun"`,
    );
  }
  if (s.vip !== undefined && sameIp(ip, s.vip)) {
    ctx.valueError(t.at("address"), `real server ${formatIp(ip)} is the service's own vip`);
  }

  const config: RealServerConfig = {
    address: formatIp(ip),
    family: ip.family === 4 ? "inet" : "inet6",
    port: port ?? 0,
    weight,
    method,
    u_threshold: u,
    l_threshold: l,
    ...(check === undefined ? {} : { check }),
    pos: ctx.sourcePos(path),
  };
  return { config, ip, path };
}

function readSorry(t: TableReader, port: number, method: ForwardingMethod): SorryServerConfig | undefined {
  const st = t.table("sorry_server", SORRY_KEYS);
  if (st === undefined || !st.require("address")) return undefined;
  const ip = st.ip("address");
  const p = st.int("port", 0, 65535) ?? port;
  const m = st.enumOf("method", METHODS, "forwarding method") ?? method;
  return ip === undefined ? undefined : { address: formatIp(ip), port: p, method: m };
}

function checkDuplicateReals(ctx: Ctx, reals: readonly ReadReal[]): void {
  const seen: ReadReal[] = [];
  for (const r of reals) {
    const dup = seen.find((o) => sameIp(o.ip, r.ip) && o.config.port === r.config.port);
    if (dup !== undefined) {
      const idx = dup.path[dup.path.length - 1];
      ctx.valueError(
        [...r.path, "address"],
        `real server ${r.config.address}:${r.config.port} is already listed as real[${String(idx)}] of this service`,
      );
    } else {
      seen.push(r);
    }
  }
}

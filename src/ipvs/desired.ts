// From the config's [services.*] to the IPVS desired table. The real servers come from the health layer's
// pool (up, inhibited, draining or sorry); everything else about a service comes from the config.
import type { ServiceConfig } from "../config/types.ts";
import type {
  AddressFamily,
  DestOptions,
  DestSpec,
  ServiceKey,
  ServiceOptions,
  ServiceSpec,
} from "./model.ts";

const TUNNEL_FLAGS = { nocsum: 0, csum: 1, remcsum: 2 } as const;

export function familyOf(f: "inet" | "inet6"): AddressFamily {
  return f === "inet" ? 4 : 6;
}

export function serviceKeyOf(s: ServiceConfig): ServiceKey {
  const family = familyOf(s.family);
  if (s.fwmark !== undefined) return { kind: "fwmark", family, fwmark: s.fwmark };
  if (s.vip === undefined || s.protocol === undefined) {
    throw new Error(
      `service ${s.name}: neither a fwmark nor a vip and protocol (the loader should refuse this)`,
    );
  }
  return { kind: "addr", family, protocol: s.protocol, address: s.vip, port: s.port };
}

export function serviceOptionsOf(s: ServiceConfig): ServiceOptions {
  const family = familyOf(s.family);
  const prefix = s.persistence_prefix ?? (family === 4 ? 32 : 128);
  return {
    scheduler: s.scheduler,
    persistenceTimeout: s.persistence_timeout ?? 0,
    persistenceNetmask: family === 4 ? prefixToNetmask(prefix) : String(prefix),
    ...(s.persistence_engine === undefined ? {} : { persistenceEngine: s.persistence_engine }),
    onePacket: s.ops,
    // The kernel has one pair of scheduler flags; sh and mh name them differently.
    schedFallback: s.scheduler === "mh" ? s.mh_fallback : s.sh_fallback,
    schedPort: s.scheduler === "mh" ? s.mh_port : s.sh_port,
  };
}

/** Tunnel encapsulation of the service's TUN real servers. */
export function tunnelOf(s: ServiceConfig): Pick<DestOptions, "tunnelType" | "tunnelPort" | "tunnelFlags"> {
  return {
    tunnelType: s.tun_type,
    tunnelPort: s.tun_port ?? 0,
    tunnelFlags: TUNNEL_FLAGS[s.tun_checksum ?? "nocsum"],
  };
}

export function desiredService(s: ServiceConfig, dests: readonly DestSpec[]): ServiceSpec {
  return { key: serviceKeyOf(s), options: serviceOptionsOf(s), dests };
}

/** Every configured real server as a destination, ignoring health (for boxes without checks, and tests). */
export function configuredDests(s: ServiceConfig): DestSpec[] {
  const tunnel = tunnelOf(s);
  return s.real.map((r) => ({
    family: familyOf(r.family),
    address: r.address,
    port: r.port,
    method: r.method,
    weight: r.weight,
    upperThreshold: r.u_threshold,
    lowerThreshold: r.l_threshold,
    ...tunnel,
  }));
}

export function prefixToNetmask(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad IPv4 prefix ${prefix}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join(".");
}

// Cross-section checks: the parts of the file that must agree with each other (services with
// interfaces and VRRP, VRRP with services, the box's sysctls with its forwarding methods).

import { didYouMean } from "./errors.ts";
import { cidrContains, formatCidr, formatIp, networkOf, parseCidr, sameIp } from "./net.ts";
import type { Ctx } from "./reader.ts";
import type { ReadInterface } from "./sections/interfaces.ts";
import type { ReadService } from "./sections/services.ts";
import type { ReadVrrpInstance } from "./sections/vrrp.ts";
import type { IpvsConfig, SystemConfig } from "./types.ts";

export interface CrossInput {
  readonly system: SystemConfig;
  /** whether [system.sysctl] ip_forward was written explicitly (and so has a position) */
  readonly ipForwardWritten: boolean;
  readonly interfaces: readonly ReadInterface[];
  readonly instances: readonly ReadVrrpInstance[];
  readonly services: readonly ReadService[];
  readonly ipvs: IpvsConfig;
}

export function crossCheck(ctx: Ctx, input: CrossInput): void {
  checkServiceIdentity(ctx, input.services);
  checkServiceVips(ctx, input);
  checkRealServers(ctx, input);
  checkTrackServices(ctx, input);
  checkForwardingSysctls(ctx, input);
  checkSyncDaemon(ctx, input);
}

/** The sync daemon's interface and VRRP instance must be defined in this file. */
function checkSyncDaemon(ctx: Ctx, input: CrossInput): void {
  const d = input.ipvs.sync_daemon;
  if (d === undefined) return;
  const ifnames = input.interfaces.map((i) => i.config.name);
  if (d.interface !== "" && !ifnames.includes(d.interface)) {
    ctx.valueError(
      ["ipvs", "sync_daemon", "interface"],
      `interface '${d.interface}' is not defined in [interfaces]${didYouMean(d.interface, ifnames)}; defined: ${ifnames.join(", ") || "none"}`,
    );
  }
  const instances = input.instances.map((i) => i.config.name);
  if (d.vrrp_instance !== undefined && !instances.includes(d.vrrp_instance)) {
    ctx.valueError(
      ["ipvs", "sync_daemon", "vrrp_instance"],
      `VRRP instance '${d.vrrp_instance}' is not defined in [vrrp.instances]${didYouMean(d.vrrp_instance, instances)}; defined: ${instances.join(", ") || "none"}`,
    );
  }
}

function checkServiceIdentity(ctx: Ctx, services: readonly ReadService[]): void {
  const seen = new Map<string, string>();
  for (const s of services) {
    const c = s.config;
    let key: string;
    let shown: string;
    let at: (string | number)[];
    if (c.fwmark !== undefined) {
      key = `fwmark/${c.family}/${c.fwmark}`;
      shown = `fwmark ${c.fwmark} (${c.family})`;
      at = [...s.path, "fwmark"];
    } else if (s.vip !== undefined) {
      key = `${c.vip}/${c.port}/${c.protocol}`;
      shown = `${s.vip.family === 6 ? `[${c.vip}]` : c.vip}:${c.port}/${c.protocol}`;
      at = [...s.path, "vip"];
    } else {
      continue;
    }
    const other = seen.get(key);
    if (other !== undefined) ctx.valueError(at, `${shown} is already defined by service '${other}'`);
    else seen.set(key, c.name);
  }
}

function checkServiceVips(ctx: Ctx, input: CrossInput): void {
  const names = input.instances.map((i) => i.config.name);
  for (const s of input.services) {
    const name = s.config.vrrp_instance;
    const inst = name === undefined ? undefined : input.instances.find((i) => i.config.name === name);
    if (name !== undefined && inst === undefined) {
      ctx.valueError(
        [...s.path, "vrrp_instance"],
        `VRRP instance '${name}' is not defined in [vrrp.instances]${didYouMean(name, names)}; defined: ${names.join(", ") || "none"}`,
      );
      continue;
    }
    const vip = s.vip;
    if (vip === undefined) continue;
    const onInstance = (i: ReadVrrpInstance) => i.vips.some((v) => sameIp(v.cidr.addr, vip));
    if (inst !== undefined) {
      if (!onInstance(inst)) {
        ctx.valueError(
          [...s.path, "vip"],
          `vip ${formatIp(vip)} is not among vrrp.instances.${inst.config.name}.virtual_ipaddress (${inst.config.virtual_ipaddress.map((v) => v.address).join(", ")})`,
        );
      }
      continue;
    }
    const local = input.interfaces.some((i) => i.cidrs.some((c) => sameIp(c.cidr.addr, vip)));
    if (!local && !input.instances.some(onInstance)) {
      ctx.valueError(
        [...s.path, "vip"],
        `vip ${formatIp(vip)} is neither an interface address nor a VRRP virtual_ipaddress; IPVS only sees traffic to local addresses`,
      );
    }
  }
}

function checkRealServers(ctx: Ctx, input: CrossInput): void {
  const connected = input.interfaces.flatMap((i) =>
    i.cidrs.map((c) => ({ net: c.cidr, ifname: i.config.name })),
  );
  const routes = input.interfaces.flatMap((i) =>
    i.config.routes.flatMap((rt) => {
      const net = parseCidr(rt.to);
      return net === undefined ? [] : [net];
    }),
  );
  for (const s of input.services) {
    for (const r of s.reals) {
      const at = [...r.path, "address"];
      const own = connected.find((c) => sameIp(c.net.addr, r.ip));
      if (own !== undefined) {
        ctx.valueError(
          at,
          `real server ${formatIp(r.ip)} is an address of this box (interface '${own.ifname}')`,
        );
        continue;
      }
      const onLink = connected.some((c) => cidrContains(c.net, r.ip));
      if (r.config.method !== "dr") {
        // NAT and TUN route to the real server: some connected subnet or configured route must reach it.
        const familyReported =
          s.vip !== undefined && s.vip.family !== r.ip.family && r.config.method !== "tun";
        if (!onLink && !familyReported && !routes.some((net) => cidrContains(net, r.ip))) {
          ctx.valueError(
            at,
            `real server ${formatIp(r.ip)} is not reachable: no connected subnet or route in [interfaces] covers it (${r.config.method.toUpperCase()} routes to it)`,
          );
        }
        continue;
      }
      if (onLink) continue;
      const list = unique(
        connected.filter((c) => c.net.addr.family === r.ip.family).map((c) => formatCidr(networkOf(c.net))),
      );
      ctx.valueError(
        at,
        `real server ${formatIp(r.ip)} is not on a connected subnet of any interface (DR needs layer-2 adjacency); connected: ${list.length > 0 ? list.join(", ") : "none"}`,
      );
    }
  }
}

function checkTrackServices(ctx: Ctx, input: CrossInput): void {
  const names = input.services.map((s) => s.config.name);
  for (const inst of input.instances) {
    inst.config.track_service.forEach((name, i) => {
      const p = inst.trackServicePaths[i];
      if (p === undefined || names.includes(name)) return;
      ctx.valueError(
        p,
        `service '${name}' is not defined in [services]${didYouMean(name, names)}; defined: ${names.join(", ") || "none"}`,
      );
    });
  }
}

function checkForwardingSysctls(ctx: Ctx, input: CrossInput): void {
  if (input.system.sysctl.ip_forward || !input.ipForwardWritten) return;
  const nat = input.services.find((s) => s.reals.some((r) => r.config.method === "nat"));
  if (nat === undefined) return;
  ctx.valueError(
    ["system", "sysctl", "ip_forward"],
    `NAT service '${nat.config.name}' needs ip_forward = true (replies from real servers are routed through this box)`,
  );
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

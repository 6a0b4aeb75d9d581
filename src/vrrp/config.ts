// From the box configuration ([vrrp.instances.NAME], [vrrp.sync_groups.NAME]) to the VRRP service:
// the keepalived-vocabulary fields map one to one onto VrrpInstanceInput; source addresses the config
// leaves out are read from the interfaces (IPv4 primary, IPv6 link-local).
import type { VrrpConfig, VrrpInstanceConfig } from "../config/types.ts";
import type { NotifyConfig, NotifyHooks } from "./notify.ts";
import { startVrrp, type VrrpDeps, type VrrpHandle } from "./service.ts";
import { buildSpec, type VrrpInstanceInput } from "./spec.ts";
import type { SyncGroupSpec, VrrpInstanceSpec } from "./types.ts";
import { findPrimaryAddress } from "./vips.ts";

export function inputFromConfig(c: VrrpInstanceConfig): VrrpInstanceInput {
  return {
    name: c.name,
    interface: c.interface,
    virtual_router_id: c.virtual_router_id,
    priority: c.priority,
    advert_int: c.advert_int,
    version: c.version,
    nopreempt: c.nopreempt,
    preempt_delay: c.preempt_delay,
    accept: c.accept,
    virtual_ipaddress: c.virtual_ipaddress.map((v) => ({ address: v.cidr, dev: v.dev || c.interface })),
    ...(c.unicast_src_ip !== undefined ? { unicast_src_ip: c.unicast_src_ip } : {}),
    unicast_peer: c.unicast_peer,
    track_interface: c.track_interface.map((t) => ({ name: t.name, weight: t.weight })),
    // The config tracks a service's quorum without a weight: losing it means FAULT (docs/config.md).
    track_service: c.track_service.map((name) => ({ name, weight: 0 })),
    checksum: c.checksum,
    garp_master_repeat: c.garp_master_repeat,
    garp_interval: c.garp_interval,
    garp_master_refresh: c.garp_master_refresh,
    garp_master_delay: c.garp_master_delay,
    use_vmac: c.use_vmac,
  };
}

function hooksOf(h: {
  readonly notify?: readonly string[];
  readonly notify_master?: readonly string[];
  readonly notify_backup?: readonly string[];
  readonly notify_fault?: readonly string[];
}): NotifyHooks {
  return {
    ...(h.notify ? { notify: h.notify } : {}),
    ...(h.notify_master ? { notify_master: h.notify_master } : {}),
    ...(h.notify_backup ? { notify_backup: h.notify_backup } : {}),
    ...(h.notify_fault ? { notify_fault: h.notify_fault } : {}),
  };
}

export function notifyFromConfig(cfg: VrrpConfig): NotifyConfig {
  return {
    instances: Object.fromEntries(cfg.instances.map((i) => [i.name, hooksOf(i)])),
    groups: Object.fromEntries(cfg.sync_groups.map((g) => [g.name, hooksOf(g)])),
  };
}

/** Builds checked specs, reading each instance's source address from its interface when not configured. */
export async function resolveSpecs(inputs: readonly VrrpInstanceInput[]): Promise<VrrpInstanceSpec[]> {
  const specs: VrrpInstanceSpec[] = [];
  for (const raw of inputs) {
    const vips = raw.virtual_ipaddress.map((v) => (typeof v === "string" ? v : v.address));
    const family = vips[0]?.includes(":") ? 6 : 4;
    const primary = raw.unicast_src_ip ?? (await findPrimaryAddress(raw.interface, family, vips));
    specs.push(buildSpec(raw, primary));
  }
  return specs;
}

/** What `fulcrum run` calls after the interfaces are configured. */
export async function startVrrpFromConfig(cfg: VrrpConfig, deps: VrrpDeps = {}): Promise<VrrpHandle | null> {
  if (cfg.instances.length === 0) return null;
  const specs = await resolveSpecs(cfg.instances.map(inputFromConfig));
  const groups: SyncGroupSpec[] = cfg.sync_groups.map((g) => ({ name: g.name, instances: g.instances }));
  return startVrrp(specs, groups, { notify: notifyFromConfig(cfg), ...deps });
}

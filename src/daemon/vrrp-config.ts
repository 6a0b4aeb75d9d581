// From the config's [vrrp] section to the VRRP core's checked specs.
import type { Config, VrrpInstanceConfig } from "../config/types.ts";
import { buildSpec, type VrrpInstanceInput } from "../vrrp/spec.ts";
import type { SyncGroupSpec, VrrpInstanceSpec } from "../vrrp/types.ts";

export function vrrpSpecsFromConfig(config: Config): { specs: VrrpInstanceSpec[]; groups: SyncGroupSpec[] } {
  const specs = config.vrrp.instances.map((i) => buildSpec(instanceInput(i), primaryAddress(config, i)));
  const groups = config.vrrp.sync_groups.map((g) => ({ name: g.name, instances: [...g.instances] }));
  return { specs, groups };
}

function instanceInput(i: VrrpInstanceConfig): VrrpInstanceInput {
  return {
    name: i.name,
    interface: i.interface,
    virtual_router_id: i.virtual_router_id,
    priority: i.priority,
    advert_int: i.advert_int,
    version: i.version,
    nopreempt: i.nopreempt,
    preempt_delay: i.preempt_delay,
    accept: i.accept,
    virtual_ipaddress: i.virtual_ipaddress.map((v) => ({ address: v.cidr, dev: v.dev })),
    ...(i.unicast_src_ip === undefined ? {} : { unicast_src_ip: i.unicast_src_ip }),
    unicast_peer: i.unicast_peer,
    track_interface: i.track_interface.map((t) => ({ name: t.name, weight: t.weight })),
    track_service: i.track_service.map((name) => ({ name })),
    checksum: i.checksum,
    garp_master_repeat: i.garp_master_repeat,
    garp_interval: i.garp_interval,
    garp_master_refresh: i.garp_master_refresh,
    use_vmac: i.use_vmac,
  };
}

/**
 * The adverts' source when the config names none: the interface's first IPv4 address, or for IPv6 its
 * configured link-local one (RFC 5798 sends from the link-local; otherwise the adapter reads it from the link).
 */
function primaryAddress(config: Config, i: VrrpInstanceConfig): string | undefined {
  const iface = config.interfaces.find((x) => x.name === i.interface);
  const v6 = i.family === "inet6";
  const cidr = iface?.addresses.find((a) => (v6 ? a.toLowerCase().startsWith("fe80:") : !a.includes(":")));
  return cidr?.split("/")[0];
}

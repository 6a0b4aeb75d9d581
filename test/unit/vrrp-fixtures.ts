// Shared builders for the VRRP unit tests and the simulation.
import { buildSpec, type VrrpInstanceInput } from "../../src/vrrp/spec.ts";
import type { Advert, VrrpInstanceSpec } from "../../src/vrrp/types.ts";

export function spec(over: Partial<VrrpInstanceInput> & { src?: string } = {}): VrrpInstanceSpec {
  const { src, ...rest } = over;
  return buildSpec(
    {
      name: "vi",
      interface: "eth0",
      virtual_router_id: 51,
      priority: 100,
      advert_int: 1,
      virtual_ipaddress: ["10.0.0.100/24"],
      ...rest,
    },
    src ?? "10.0.0.1",
  );
}

/** An advert of VRID 51 for 10.0.0.100, as the peers in these tests send it. */
export function advert(priority: number, source = "10.0.0.2", intervalCs = 100): Advert {
  return { version: 3, family: 4, vrid: 51, priority, intervalCs, addresses: ["10.0.0.100"], source };
}

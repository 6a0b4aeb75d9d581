// Shared builders for the VRRP unit tests and the simulation.
import { buildSpec, type VrrpInstanceInput } from "../../src/vrrp/spec.ts";
import type { VrrpInstanceSpec } from "../../src/vrrp/types.ts";

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

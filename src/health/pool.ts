// The health layer's pool as IPVS destinations: what the reconciler puts into ServiceSpec.dests.
import { DEFAULT_DEST_OPTIONS, type DestSpec } from "../ipvs/model.ts";
import type { EffectiveDest } from "./types.ts";

/** Tunnel options are the service's (not the health layer's); pass them for method "tun". */
export function toDestSpecs(
  pool: readonly EffectiveDest[],
  tunnel: Pick<DestSpec, "tunnelType" | "tunnelPort" | "tunnelFlags"> = DEFAULT_DEST_OPTIONS,
): DestSpec[] {
  return pool.map((d) => ({
    family: d.family,
    address: d.address,
    port: d.port,
    method: d.method,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    tunnelType: tunnel.tunnelType,
    tunnelPort: tunnel.tunnelPort,
    tunnelFlags: tunnel.tunnelFlags,
  }));
}

// RFC 5798 section 6.1 timer arithmetic (VRRPv2: RFC 3768 section 6.1, skew in seconds not scaled).
import type { VrrpVersion } from "./types.ts";

export function intervalMs(intervalCs: number): number {
  return intervalCs * 10;
}

/** Skew_Time: higher priorities wait less, so the best backup speaks first. */
export function skewMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  if (version === 2) return ((256 - priority) * 1000) / 256;
  return ((256 - priority) * intervalMs(masterAdverIntervalCs)) / 256;
}

/** Master_Down_Interval = 3 x Master_Adver_Interval + Skew_Time. */
export function masterDownMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  return 3 * intervalMs(masterAdverIntervalCs) + skewMs(version, priority, masterAdverIntervalCs);
}

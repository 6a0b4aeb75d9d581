// Interface link state for tracking, read from sysfs (cheap, and correct inside `ip netns exec`).
import { readFileSync } from "node:fs";

/** operstate "up" or "unknown" (drivers without carrier reporting, e.g. dummy) with carrier = up. */
export function readLinkUp(ifname: string): boolean {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(ifname)) return false;
  try {
    const oper = readFileSync(`/sys/class/net/${ifname}/operstate`, "utf8").trim();
    if (oper !== "up" && oper !== "unknown") return false;
    return readFileSync(`/sys/class/net/${ifname}/carrier`, "utf8").trim() === "1";
  } catch {
    return false; // gone, or administratively down (carrier read fails with EINVAL)
  }
}

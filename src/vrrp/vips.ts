// Virtual addresses through rtnetlink: idempotent add/delete (a restart adopts what is already there), and
// the interface's primary address (the advert source and tie-break key) when the config does not name one.
import { KernelError } from "../netlink/errors.ts";
import { Rtnetlink } from "../netlink/rtnetlink.ts";
import { canonicalIP, type Family, isIPv6LinkLocal } from "./addr.ts";

export interface VipDriver {
  add(ifname: string, cidr: string): Promise<void>;
  del(ifname: string, cidr: string): Promise<void>;
  close(): Promise<void>;
}

const IFA_F_SECONDARY = 0x01;

export async function createVipDriver(): Promise<VipDriver> {
  const rt = Rtnetlink.open({ timeoutMs: 2000 });
  return {
    async add(ifname, cidr) {
      // REPLACE: an address left by a previous run (SIGKILL) is adopted instead of failing with EEXIST;
      // IPv6 VIPs skip DAD so they are usable at once (the VRRP election already settled ownership).
      await rt.addAddress(ifname, cidr, { replace: true, noDad: true });
    },
    async del(ifname, cidr) {
      try {
        await rt.deleteAddress(ifname, cidr);
      } catch (e) {
        if (e instanceof KernelError && (e.code === "EADDRNOTAVAIL" || e.code === "ENODEV")) return;
        throw e;
      }
    },
    close: () => rt.close(),
  };
}

/**
 * IPv4: the interface's first primary address that is not one of the VIPs. IPv6: its link-local address.
 * undefined when the interface has none (the instance then needs unicast_src_ip).
 */
export async function findPrimaryAddress(
  ifname: string,
  family: Family,
  exclude: readonly string[],
): Promise<string | undefined> {
  const rt = Rtnetlink.open({ timeoutMs: 2000 });
  try {
    const link = await rt.getLink(ifname);
    if (!link) return undefined;
    const skip = new Set(exclude.map((c) => canonicalIP(c.split("/")[0]!)));
    const addrs = await rt.listAddresses({ family, index: link.index });
    for (const a of addrs) {
      const ip = canonicalIP(a.address);
      if (skip.has(ip)) continue;
      if (family === 4 && (a.flags & IFA_F_SECONDARY) === 0) return ip;
      if (family === 6 && isIPv6LinkLocal(ip)) return ip;
    }
    return undefined;
  } finally {
    await rt.close();
  }
}

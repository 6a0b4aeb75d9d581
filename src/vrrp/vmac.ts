// Virtual MAC (use_vmac): a macvlan "vrrp.<VRID>" on the instance's interface with the RFC 5798 7.3 MAC
// 00:00:5e:00:01:<VRID>, holding the VIPs. After a failover the clients' ARP entries stay valid; only the
// switches relearn the MAC from the new master's gratuitous ARP. IPv4 only.
import { writeFileSync } from "node:fs";
import { Rtnetlink } from "../netlink/rtnetlink.ts";
import { vmacAddress, vmacName } from "./spec.ts";
import type { VrrpInstanceSpec } from "./types.ts";

function sysctl(path: string, value: string): void {
  writeFileSync(`/proc/sys/net/${path}`, value);
}

/**
 * Creates (or adopts) the VMAC interfaces of these instances and brings them up. ARP is answered only on
 * the interface that holds the address (arp_ignore=1 on both the macvlan and its parent), the parent's ARP
 * requests carry its own address (arp_announce=2), and IPv6 is off on the macvlan so a backup's idle VMAC
 * never sends a frame. Returns the names this call created (to delete at stop).
 */
export async function ensureVmacs(specs: readonly VrrpInstanceSpec[]): Promise<string[]> {
  const wanted = specs.filter((s) => s.useVmac);
  if (wanted.length === 0) return [];
  const rt = Rtnetlink.open({ timeoutMs: 2000 });
  const created: string[] = [];
  try {
    for (const s of wanted) {
      const name = vmacName(s.vrid);
      const existing = await rt.getLink(name);
      if (existing && existing.mac?.toLowerCase() !== vmacAddress(s.vrid)) {
        throw new Error(`${name} exists with MAC ${existing.mac}, not ${vmacAddress(s.vrid)}`);
      }
      if (!existing) {
        await rt.createMacvlan(name, s.interface, "private", { mac: vmacAddress(s.vrid) });
        created.push(name);
      }
      sysctl(`ipv6/conf/${name}/disable_ipv6`, "1");
      sysctl(`ipv4/conf/${name}/arp_ignore`, "1");
      sysctl(`ipv4/conf/${s.interface}/arp_ignore`, "1");
      // Replies to clients leave through the parent; its ARP requests must not claim the VIP for the
      // parent's MAC (they would repoint the clients' entries), so it announces its own address.
      sysctl(`ipv4/conf/${s.interface}/arp_announce`, "2");
      await rt.setLinkUp(name, true);
    }
  } catch (e) {
    for (const name of created) await rt.deleteLink(name).catch(() => {});
    throw e;
  } finally {
    await rt.close();
  }
  return created;
}

export async function deleteVmacs(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const rt = Rtnetlink.open({ timeoutMs: 2000 });
  try {
    for (const n of names) await rt.deleteLink(n).catch(() => {});
  } finally {
    await rt.close();
  }
}

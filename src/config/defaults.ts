// Every default of the configuration, in one place. docs/config.md documents the same values;
// test/unit/config-defaults.test.ts keeps the two from drifting apart.

import type { ArpRole, InterfaceSysctls } from "./types.ts";

export const DEFAULTS = {
  system: {
    hostname: "fulcrum",
    console: "ttyS0",
    console_baud: 115200,
    ssh: { enabled: true, listen: "0.0.0.0", port: 22 },
    api: { enabled: false, listen: "127.0.0.1", port: 8080 },
    log: { level: "info" },
    sysctl: {
      ip_forward: true,
      ipv6_forwarding: false,
      ip_nonlocal_bind: false,
      vs_conntrack: false,
      vs_expire_nodest_conn: true,
      vs_expire_quiescent_template: true,
      vs_sloppy_tcp: false,
    },
  },
  interface: { kind: "ethernet", up: true, macvlan_mode: "bridge" },
  vrrp: {
    priority: 100,
    advert_int: 1,
    version: 3,
    state: "BACKUP",
    nopreempt: false,
    preempt_delay: 0,
    accept: true,
    checksum: "rfc5798",
    garp_master_repeat: 5,
    garp_interval: 0,
    garp_master_refresh: 0,
    garp_master_delay: 5,
    use_vmac: false,
    track_interface_weight: 0,
  },
  service: {
    protocol: "tcp",
    scheduler: "wlc",
    method: "nat",
    tun_type: "ipip",
    quorum: 1,
    hysteresis: 0,
    inhibit_on_failure: false,
    delay_loop: 6,
    family: "inet",
    flags: false,
  },
  real: { weight: 1, u_threshold: 0, l_threshold: 0 },
  check: {
    timeout: 3,
    rise: 2,
    fall: 3,
    jitter: 0,
    http: { path: "/", expect: "200-299", verify: true },
    mysql: { password: "", query: "SELECT 1", require_writable: false },
    dns: { record_type: "A", rcode: "NOERROR", transport: "udp" },
  },
  update: { check_interval: 0, tries: 3, bless_after: 60, reboot: "manual" },
} as const;

/** What each arp_role fills in; keys written explicitly on the interface override these. */
export const ARP_ROLE_SYSCTLS: Readonly<Record<ArpRole, InterfaceSysctls>> = {
  // Holds VIPs and forwards to real servers on the same segment (DR): answer ARP only for
  // addresses on the asking interface, announce with the best local source, and do not send
  // ICMP redirects that would steer clients around the director.
  director: { arp_ignore: 1, arp_announce: 2, arp_filter: false, rp_filter: 2, send_redirects: false },
  // Holds the VIP on lo (DR/TUN real server): never answer ARP for it on this interface.
  realserver: { arp_ignore: 1, arp_announce: 2, arp_filter: false, rp_filter: 2, send_redirects: true },
  // The kernel's own defaults.
  default: { arp_ignore: 0, arp_announce: 0, arp_filter: false, rp_filter: 0, send_redirects: true },
};

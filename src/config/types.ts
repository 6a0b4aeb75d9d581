// The typed configuration of one box, as the loader returns it after validation.
// Every field here is already checked: addresses parse, ports are in range, references resolve.
// Defaults are filled in by the loader (documented in docs/config.md), so consumers never guess.

/** Where a value came from in the TOML file, for messages that point back at the operator's text. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export type InterfaceKind = "ethernet" | "vlan" | "macvlan" | "dummy" | "veth";

/** Per-interface ARP and routing sysctls (net.ipv4.conf.<if>.*), applied before the link goes up. */
export interface InterfaceSysctls {
  readonly arp_ignore: number; // 0..8
  readonly arp_announce: number; // 0..2
  readonly arp_filter: boolean;
  readonly rp_filter: number; // 0..2
  readonly send_redirects: boolean;
}

export interface RouteConfig {
  /** Destination CIDR; "default" is normalised to 0.0.0.0/0 or ::/0. */
  readonly to: string;
  readonly via?: string;
  readonly metric?: number;
  readonly table?: number;
}

export interface InterfaceConfig {
  readonly name: string; // kernel ifname, <= 15 bytes
  readonly kind: InterfaceKind;
  readonly link?: string; // parent for vlan/macvlan, peer name for veth
  readonly vlan_id?: number; // 1..4094, kind = vlan
  readonly macvlan_mode?: "private" | "vepa" | "bridge" | "passthru"; // kind = macvlan
  readonly mtu?: number; // 68..65535
  readonly up: boolean;
  readonly addresses: readonly string[]; // CIDRs, IPv4 or IPv6
  readonly routes: readonly RouteConfig[];
  /** undefined = leave the kernel's values alone */
  readonly sysctl?: Partial<InterfaceSysctls>;
  readonly pos: SourcePos;
}

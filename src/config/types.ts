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
  /** the arp_role shortcut as written (its values are already merged into sysctl) */
  readonly arp_role?: ArpRole;
  readonly pos: SourcePos;
}

/** How an interface's ARP sysctls are preset (docs/config.md lists the values each fills in). */
export type ArpRole = "director" | "realserver" | "default";

export type IpFamily = "inet" | "inet6";

// ---------------------------------------------------------------------------------------------
// The whole box. Everything below is added by the config loader; the interface types above are a
// contract with the interface reconciler.

export interface Config {
  /** The file the config was read from (as given to the loader). */
  readonly file: string;
  readonly system: SystemConfig;
  /** In file order. */
  readonly interfaces: readonly InterfaceConfig[];
  readonly vrrp: VrrpConfig;
  /** In file order. */
  readonly services: readonly ServiceConfig[];
  readonly ipvs: IpvsConfig;
  readonly update: UpdateConfig;
}

export type UserRole = "admin" | "viewer";

export interface SshUserConfig {
  readonly name: string;
  readonly role: UserRole;
  /** OpenSSH public key lines, e.g. "ssh-ed25519 AAAA... comment". */
  readonly authorized_keys: readonly string[];
  readonly pos: SourcePos;
}

export interface SshConfig {
  readonly enabled: boolean;
  readonly listen: string;
  readonly port: number;
  readonly users: readonly SshUserConfig[];
}

export interface ApiConfig {
  readonly enabled: boolean;
  readonly listen: string;
  readonly port: number;
  /** Bearer token; required when the API listens on a non-loopback address. */
  readonly token?: string;
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

export interface SystemSysctls {
  readonly ip_forward: boolean; // net.ipv4.ip_forward
  readonly ipv6_forwarding: boolean; // net.ipv6.conf.all.forwarding
  readonly ip_nonlocal_bind: boolean; // net.ipv4.ip_nonlocal_bind
  readonly vs_conntrack: boolean; // net.ipv4.vs.conntrack
  readonly vs_expire_nodest_conn: boolean; // net.ipv4.vs.expire_nodest_conn
  readonly vs_expire_quiescent_template: boolean; // net.ipv4.vs.expire_quiescent_template
  readonly vs_sloppy_tcp: boolean; // net.ipv4.vs.sloppy_tcp
}

export interface SystemConfig {
  readonly hostname: string;
  /** Serial console device for the TUI, e.g. "ttyS0"; "" disables it. */
  readonly console: string;
  readonly console_baud: number;
  readonly ssh: SshConfig;
  readonly api: ApiConfig;
  readonly log: { readonly level: LogLevel };
  readonly sysctl: SystemSysctls;
}

// ---------------------------------------------------------------------------------------------
// VRRP

export interface VirtualIpConfig {
  /** Address with prefix, normalised ("10.0.0.100/32" when written without one). */
  readonly cidr: string;
  /** Bare address, normalised. */
  readonly address: string;
  /** Interface to put it on; defaults to the instance's interface. */
  readonly dev: string;
}

export interface TrackInterfaceConfig {
  readonly name: string;
  /** 0 = fault when down; otherwise priority change when down (-254..254). */
  readonly weight: number;
}

/** argv vector for a notify hook; never passed through a shell. */
export type Argv = readonly string[];

export type VrrpState = "MASTER" | "BACKUP";
export type VrrpChecksum = "rfc5798" | "v2-compat";

export interface VrrpInstanceConfig {
  readonly name: string;
  readonly interface: string;
  readonly virtual_router_id: number;
  readonly priority: number;
  /** Seconds between adverts (v3: multiples of 0.01; v2: whole seconds). */
  readonly advert_int: number;
  readonly version: 2 | 3;
  readonly family: IpFamily;
  readonly state: VrrpState;
  readonly nopreempt: boolean;
  readonly preempt_delay: number;
  readonly accept: boolean;
  readonly virtual_ipaddress: readonly VirtualIpConfig[];
  readonly unicast_src_ip?: string;
  readonly unicast_peer: readonly string[];
  readonly track_interface: readonly TrackInterfaceConfig[];
  readonly track_service: readonly string[];
  readonly checksum: VrrpChecksum;
  readonly garp_master_repeat: number;
  readonly garp_interval: number;
  readonly garp_master_refresh: number;
  readonly garp_master_delay: number;
  readonly use_vmac: boolean;
  readonly notify?: Argv;
  readonly notify_master?: Argv;
  readonly notify_backup?: Argv;
  readonly notify_fault?: Argv;
  readonly pos: SourcePos;
}

export interface VrrpSyncGroupConfig {
  readonly name: string;
  readonly instances: readonly string[];
  readonly notify?: Argv;
  readonly notify_master?: Argv;
  readonly notify_backup?: Argv;
  readonly notify_fault?: Argv;
  readonly pos: SourcePos;
}

export interface VrrpConfig {
  readonly instances: readonly VrrpInstanceConfig[];
  readonly sync_groups: readonly VrrpSyncGroupConfig[];
}

// ---------------------------------------------------------------------------------------------
// Virtual services

export type ServiceProtocol = "tcp" | "udp" | "sctp";
export type Scheduler =
  | "rr"
  | "wrr"
  | "lc"
  | "wlc"
  | "lblc"
  | "lblcr"
  | "dh"
  | "sh"
  | "sed"
  | "nq"
  | "fo"
  | "ovf"
  | "mh"
  | "twos";
export type ForwardingMethod = "nat" | "dr" | "tun";
export type TunnelType = "ipip" | "gue" | "gre";
export type TunnelChecksum = "nocsum" | "csum" | "remcsum";

interface CheckCommon {
  /** seconds */
  readonly interval: number;
  /** seconds */
  readonly timeout: number;
  readonly rise: number;
  readonly fall: number;
  /** seconds of random spread added to each interval */
  readonly jitter: number;
  /** local address to connect from */
  readonly source?: string;
  /** port to probe; the real server's port unless overridden */
  readonly port: number;
}

export interface TcpCheckConfig extends CheckCommon {
  readonly type: "tcp";
}

/** Inclusive HTTP status range; a single code is {min: c, max: c}. */
export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

export interface HttpCheckConfig extends CheckCommon {
  readonly type: "http" | "https";
  readonly path: string;
  readonly expect: readonly StatusRange[];
  /** JavaScript regular expression source the body must match. */
  readonly body?: string;
  /** lowercase hex MD5 of the body (keepalived's digest). */
  readonly digest?: string;
  readonly host?: string;
  /** https only */
  readonly sni?: string;
  /** https only: verify the certificate chain */
  readonly verify: boolean;
}

export interface MysqlCheckConfig extends CheckCommon {
  readonly type: "mysql";
  readonly user: string;
  readonly password: string;
  readonly query: string;
  readonly require_writable: boolean;
  /** seconds; undefined = replication lag not checked */
  readonly max_replication_lag?: number;
}

export type DnsRecordType = "A" | "AAAA" | "CNAME" | "MX" | "NS" | "PTR" | "SOA" | "SRV" | "TXT";
export type DnsRcode = "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED";

export interface DnsCheckConfig extends CheckCommon {
  readonly type: "dns";
  readonly name: string;
  readonly record_type: DnsRecordType;
  readonly rcode: DnsRcode;
  /** an answer that must be present (its text form, e.g. "10.0.1.53") */
  readonly answer?: string;
  readonly transport: "udp" | "tcp";
}

export interface ExecCheckConfig extends CheckCommon {
  readonly type: "exec";
  readonly argv: Argv;
}

export type CheckConfig =
  | TcpCheckConfig
  | HttpCheckConfig
  | MysqlCheckConfig
  | DnsCheckConfig
  | ExecCheckConfig;
export type CheckType = CheckConfig["type"];

export interface RealServerConfig {
  readonly address: string;
  readonly family: IpFamily;
  readonly port: number;
  readonly weight: number;
  readonly method: ForwardingMethod;
  /** 0 = no limit */
  readonly u_threshold: number;
  readonly l_threshold: number;
  /** the real server's own check, else the service's; undefined = always considered up */
  readonly check?: CheckConfig;
  readonly pos: SourcePos;
}

export interface SorryServerConfig {
  readonly address: string;
  readonly port: number;
  readonly method: ForwardingMethod;
}

export interface ServiceConfig {
  readonly name: string;
  /** set for address services; exclusive with fwmark */
  readonly vip?: string;
  readonly port: number;
  readonly fwmark?: number;
  readonly family: IpFamily;
  /** undefined for fwmark services */
  readonly protocol?: ServiceProtocol;
  readonly scheduler: Scheduler;
  readonly sh_fallback: boolean;
  readonly sh_port: boolean;
  readonly mh_fallback: boolean;
  readonly mh_port: boolean;
  readonly ops: boolean;
  /** seconds; undefined = not persistent */
  readonly persistence_timeout?: number;
  /** prefix length derived from persistence_netmask (v4) or persistence_prefix (v6) */
  readonly persistence_prefix?: number;
  readonly persistence_engine?: "sip";
  readonly method: ForwardingMethod;
  readonly tun_type: TunnelType;
  readonly tun_port?: number;
  readonly tun_checksum?: TunnelChecksum;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly inhibit_on_failure: boolean;
  readonly sorry_server?: SorryServerConfig;
  readonly vrrp_instance?: string;
  /** seconds; default check interval */
  readonly delay_loop: number;
  readonly real: readonly RealServerConfig[];
  readonly pos: SourcePos;
}

// ---------------------------------------------------------------------------------------------
// Updates

export type RebootPolicy = "manual" | "immediate" | "window";

export interface UpdateConfig {
  readonly url?: string;
  /** Ed25519 public keys, raw 32 bytes each (decoded from base64 or PEM). */
  readonly trusted_keys: readonly Uint8Array[];
  /** seconds between polls of url; 0 = only when told */
  readonly check_interval: number;
  readonly tries: number;
  /** seconds of healthy running before a new slot is marked good */
  readonly bless_after: number;
  readonly reboot: RebootPolicy;
  /** "HH:MM-HH:MM" in UTC, for reboot = "window" */
  readonly reboot_window?: string;
}

// ---------------------------------------------------------------------------------------------
// IPVS kernel-wide settings

/** "vrrp": master while the named VRRP instance is MASTER, backup otherwise (keepalived's lvs_sync_daemon). */
export type SyncDaemonState = "vrrp" | "master" | "backup";

export interface SyncDaemonConfig {
  readonly interface: string;
  readonly syncid: number;
  readonly state: SyncDaemonState;
  readonly vrrp_instance?: string;
  readonly maxlen?: number;
  readonly port?: number;
  readonly ttl?: number;
  readonly group?: string;
  readonly pos: SourcePos;
}

export interface IpvsConfig {
  /** seconds; 0 = leave the kernel's value (ipvsadm --set semantics) */
  readonly timeout_tcp: number;
  readonly timeout_tcpfin: number;
  readonly timeout_udp: number;
  /** seconds a drained real server may keep connections before it is removed anyway */
  readonly drain_timeout: number;
  readonly sync_daemon?: SyncDaemonConfig;
}

// The IPVS table as fulcrum sees it: typed services and destinations, independent of netlink.
// Addresses are canonical strings (IPv4 dotted quad, IPv6 RFC 5952 lower case) so equal means equal.

export type IpvsProtocol = "tcp" | "udp" | "sctp";
export type AddressFamily = 4 | 6;
export type ForwardMethod = "nat" | "dr" | "tun";
export type TunnelType = "ipip" | "gue" | "gre";

export const SCHEDULERS = [
  "rr",
  "wrr",
  "lc",
  "wlc",
  "lblc",
  "lblcr",
  "dh",
  "sh",
  "sed",
  "nq",
  "fo",
  "ovf",
  "mh",
  "twos",
] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

export type ServiceKey =
  | {
      readonly kind: "addr";
      readonly family: AddressFamily;
      readonly protocol: IpvsProtocol;
      readonly address: string;
      readonly port: number;
    }
  | { readonly kind: "fwmark"; readonly family: AddressFamily; readonly fwmark: number };

/** Options of a virtual service that can be changed in place (IPVS_CMD_SET_SERVICE). */
export interface ServiceOptions {
  readonly scheduler: Scheduler;
  /** 0 = not persistent; otherwise the persistence timeout in seconds. */
  readonly persistenceTimeout: number;
  /** Persistence granularity: netmask for IPv4 (e.g. "255.255.255.255"), prefix length for IPv6. */
  readonly persistenceNetmask: string;
  readonly persistenceEngine?: "sip";
  readonly onePacket: boolean;
  /** sh/mh: fall back to another server when the chosen one is unavailable (IP_VS_SVC_F_SCHED1). */
  readonly schedFallback: boolean;
  /** sh/mh: include the source port in the hash (IP_VS_SVC_F_SCHED2). */
  readonly schedPort: boolean;
}

export interface DestKey {
  readonly family: AddressFamily;
  readonly address: string;
  readonly port: number;
}

/** Options of a real server that can be changed in place (IPVS_CMD_SET_DEST). */
export interface DestOptions {
  readonly method: ForwardMethod;
  readonly weight: number;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  readonly tunnelType: TunnelType;
  readonly tunnelPort: number;
  /** Bit set of IP_VS_TUNNEL_ENCAP_FLAG_* (0 nocsum, 1 csum, 2 remcsum). */
  readonly tunnelFlags: number;
}

export interface DestSpec extends DestKey, DestOptions {}

export interface ServiceSpec {
  readonly key: ServiceKey;
  readonly options: ServiceOptions;
  readonly dests: readonly DestSpec[];
}

export interface IpvsStats {
  readonly conns: bigint;
  readonly inPackets: bigint;
  readonly outPackets: bigint;
  readonly inBytes: bigint;
  readonly outBytes: bigint;
  readonly cps: bigint;
  readonly inPps: bigint;
  readonly outPps: bigint;
  readonly inBps: bigint;
  readonly outBps: bigint;
}

export interface KernelDest extends DestSpec {
  readonly activeConns: number;
  readonly inactiveConns: number;
  readonly persistentConns: number;
  readonly stats?: IpvsStats;
}

export interface KernelService {
  readonly key: ServiceKey;
  readonly options: ServiceOptions;
  readonly dests: readonly KernelDest[];
  readonly stats?: IpvsStats;
}

/** ipvsadm's defaults for a new service: wlc, not persistent, no flags. */
export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = {
  scheduler: "wlc",
  persistenceTimeout: 0,
  persistenceNetmask: "255.255.255.255",
  onePacket: false,
  schedFallback: false,
  schedPort: false,
};

export const DEFAULT_DEST_OPTIONS: DestOptions = {
  method: "nat",
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
  tunnelType: "ipip",
  tunnelPort: 0,
  tunnelFlags: 0,
};

export function serviceKeyString(key: ServiceKey): string {
  if (key.kind === "fwmark") return `fwm:${key.family}:${key.fwmark}`;
  return `${key.protocol}:${hostPort(key.address, key.port)}`;
}

export function destKeyString(key: DestKey): string {
  return hostPort(key.address, key.port);
}

/** ipvsadm's notation: 10.0.0.1:80 and [2001:db8::1]:80. */
export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export function sameServiceOptions(a: ServiceOptions, b: ServiceOptions): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.persistenceTimeout === b.persistenceTimeout &&
    (a.persistenceTimeout === 0 || a.persistenceNetmask === b.persistenceNetmask) &&
    (a.persistenceEngine ?? "") === (b.persistenceEngine ?? "") &&
    a.onePacket === b.onePacket &&
    a.schedFallback === b.schedFallback &&
    a.schedPort === b.schedPort
  );
}

export function sameDestOptions(a: DestOptions, b: DestOptions): boolean {
  const tunnelMatters = a.method === "tun" || b.method === "tun";
  return (
    a.method === b.method &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold &&
    (!tunnelMatters ||
      (a.tunnelType === b.tunnelType && a.tunnelPort === b.tunnelPort && a.tunnelFlags === b.tunnelFlags))
  );
}

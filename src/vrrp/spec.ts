// Building a checked VrrpInstanceSpec from keepalived-style fields (the standalone runner's JSON and the
// config mapping both come through here). Every range the RFCs and keepalived impose is checked once.
import { AddressError, canonicalIP, familyOf, isIPv6LinkLocal, parseCidr } from "./addr.ts";
import {
  type ChecksumMode,
  MAX_INTERVAL_CS,
  MAX_VIPS_PER_INSTANCE,
  MIN_INTERVAL_CS,
  type SyncGroupSpec,
  type TrackSpec,
  type VrrpInstanceSpec,
  VrrpSpecError,
} from "./types.ts";

export interface TrackInput {
  readonly name: string;
  readonly weight?: number;
}

/** keepalived vocabulary; times in seconds as in keepalived.conf. */
export interface VrrpInstanceInput {
  readonly name: string;
  readonly interface: string;
  readonly virtual_router_id: number;
  readonly priority?: number;
  readonly advert_int?: number;
  readonly version?: 2 | 3;
  readonly nopreempt?: boolean;
  readonly preempt_delay?: number;
  readonly accept?: boolean;
  /** "10.0.0.100/24", or { address, dev } to put the address on another interface. */
  readonly virtual_ipaddress: readonly (string | { readonly address: string; readonly dev?: string })[];
  /** Source of adverts; required unless the adapter can read the interface's primary address. */
  readonly unicast_src_ip?: string;
  readonly unicast_peer?: readonly string[];
  readonly track_interface?: readonly TrackInput[];
  readonly track_service?: readonly TrackInput[];
  readonly checksum?: ChecksumMode;
  readonly garp_master_repeat?: number;
  readonly garp_interval?: number;
  readonly garp_master_refresh?: number;
  readonly garp_master_delay?: number;
  readonly use_vmac?: boolean;
}

/** keepalived's default name for the VMAC interface (use_vmac). */
export function vmacName(vrid: number): string {
  return `vrrp.${vrid}`;
}

/** RFC 5798 7.3: the IPv4 virtual router MAC. */
export function vmacAddress(vrid: number): string {
  return `00:00:5e:00:01:${vrid.toString(16).padStart(2, "0")}`;
}

export const trackKeyInterface = (ifname: string) => `if:${ifname}`;
export const trackKeyService = (service: string) => `svc:${service}`;

function fail(name: string, msg: string): never {
  throw new VrrpSpecError(`vrrp instance ${name}: ${msg}`);
}

function intIn(name: string, field: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi)
    fail(name, `${field} must be an integer in ${lo}..${hi}, got ${v}`);
  return v;
}

/** primaryAddress: the interface's primary address (IPv4) or link-local (IPv6), when the caller knows it. */
export function buildSpec(raw: VrrpInstanceInput, primaryAddress?: string): VrrpInstanceSpec {
  const name = raw.name;
  if (!name || !/^[A-Za-z0-9_.-]{1,64}$/.test(name))
    fail(String(name), "name must be 1-64 of [A-Za-z0-9_.-]");
  if (!raw.interface || raw.interface.length > 15)
    fail(name, "interface must be a kernel ifname (<= 15 bytes)");
  const vrid = intIn(name, "virtual_router_id", raw.virtual_router_id, 1, 255);
  const priority = intIn(name, "priority", raw.priority ?? 100, 1, 255);
  const version = raw.version ?? 3;
  if (version !== 2 && version !== 3) fail(name, "version must be 2 or 3");
  const advertSeconds = raw.advert_int ?? 1;
  let advertIntervalCs: number;
  if (version === 2) {
    advertIntervalCs = intIn(name, "advert_int (VRRPv2: whole seconds)", advertSeconds, 1, 255) * 100;
  } else {
    advertIntervalCs = Math.round(advertSeconds * 100);
    if (!(advertIntervalCs >= MIN_INTERVAL_CS && advertIntervalCs <= MAX_INTERVAL_CS)) {
      fail(name, `advert_int must be 0.01..40.95 s, got ${advertSeconds}`);
    }
  }
  const vips = raw.virtual_ipaddress ?? [];
  if (vips.length === 0) fail(name, "virtual_ipaddress must name at least one address");
  if (vips.length > MAX_VIPS_PER_INSTANCE) fail(name, `at most ${MAX_VIPS_PER_INSTANCE} virtual addresses`);
  let virtualAddresses: string[];
  let family: 4 | 6;
  try {
    const parsed = vips.map((v) => parseCidr(typeof v === "string" ? v : v.address));
    family = parsed[0]!.family;
    if (parsed.some((p) => p.family !== family))
      fail(name, "virtual_ipaddress mixes IPv4 and IPv6 (use two instances)");
    virtualAddresses = parsed.map((p) => `${p.address}/${p.prefix}`);
    if (new Set(parsed.map((p) => p.address)).size !== parsed.length) fail(name, "duplicate virtual address");
  } catch (e) {
    if (e instanceof AddressError) fail(name, e.message);
    throw e;
  }
  if (version === 2 && family === 6) fail(name, "VRRPv2 is IPv4 only (RFC 3768); use version 3");
  const checkAddr = (field: string, a: string): string => {
    try {
      if (familyOf(a) !== family) fail(name, `${field} ${a} is not IPv${family} like the virtual addresses`);
      return canonicalIP(a);
    } catch (e) {
      if (e instanceof AddressError) fail(name, `${field}: ${e.message}`);
      throw e;
    }
  };
  const src = raw.unicast_src_ip ?? primaryAddress;
  if (!src) fail(name, "no source address: set unicast_src_ip or give the interface an address");
  const primary = checkAddr("unicast_src_ip", src);
  if (family === 6 && !isIPv6LinkLocal(primary))
    fail(name, "IPv6 adverts must come from a link-local address");
  const unicastPeers = (raw.unicast_peer ?? []).map((p) => checkAddr("unicast_peer", p));
  const tracks: TrackSpec[] = [
    ...(raw.track_interface ?? []).map((t) => ({ key: trackKeyInterface(t.name), weight: t.weight ?? 0 })),
    ...(raw.track_service ?? []).map((t) => ({ key: trackKeyService(t.name), weight: t.weight ?? 0 })),
  ];
  // As keepalived does: the instance's own interface is tracked (FAULT when it loses link) unless listed.
  if (!tracks.some((t) => t.key === trackKeyInterface(raw.interface))) {
    tracks.unshift({ key: trackKeyInterface(raw.interface), weight: 0 });
  }
  if (new Set(tracks.map((t) => t.key)).size !== tracks.length) fail(name, "an object is tracked twice");
  for (const t of tracks) intIn(name, `weight of ${t.key}`, t.weight, -253, 253);
  const preemptDelaySeconds = raw.preempt_delay ?? 0;
  if (!(preemptDelaySeconds >= 0 && preemptDelaySeconds <= 1000))
    fail(name, "preempt_delay must be 0..1000 s");
  const checksum = raw.checksum ?? "rfc5798";
  if (checksum !== "rfc5798" && checksum !== "v2-compat")
    fail(name, 'checksum must be "rfc5798" or "v2-compat"');
  const garpCount = intIn(name, "garp_master_repeat", raw.garp_master_repeat ?? 5, 0, 100);
  const useVmac = raw.use_vmac ?? false;
  if (useVmac && family === 6) fail(name, "use_vmac is supported for IPv4 instances only");
  // With use_vmac the addresses that would live on the instance's interface go on its VMAC interface.
  const onInterface = useVmac ? vmacName(vrid) : raw.interface;
  const virtualAddressDevs = vips.map((v) => {
    const dev = typeof v === "string" ? raw.interface : (v.dev ?? raw.interface);
    return dev === raw.interface ? onInterface : dev;
  });
  for (const dev of virtualAddressDevs) {
    if (!dev || dev.length > 15) fail(name, `bad dev ${JSON.stringify(dev)} for a virtual address`);
  }
  const garpRefreshSeconds = raw.garp_master_refresh ?? 0;
  if (!(garpRefreshSeconds >= 0 && garpRefreshSeconds <= 86400))
    fail(name, "garp_master_refresh must be 0..86400 s");
  const garpDelaySeconds = raw.garp_master_delay ?? 5;
  if (!(garpDelaySeconds >= 0 && garpDelaySeconds <= 86400))
    fail(name, "garp_master_delay must be 0..86400 s");
  const garpIntervalSeconds = raw.garp_interval ?? 0;
  if (!(garpIntervalSeconds >= 0 && garpIntervalSeconds <= 10)) fail(name, "garp_interval must be 0..10 s");
  return {
    name,
    interface: raw.interface,
    family,
    vrid,
    priority,
    advertIntervalCs,
    version,
    preempt: !(raw.nopreempt ?? false),
    preemptDelayMs: preemptDelaySeconds * 1000,
    accept: raw.accept ?? true,
    virtualAddresses,
    virtualAddressDevs,
    primaryAddress: primary,
    unicastPeers,
    checksum,
    tracks,
    garpCount,
    garpIntervalMs: garpIntervalSeconds * 1000,
    garpRefreshMs: garpRefreshSeconds * 1000,
    garpSecondRoundMs: garpDelaySeconds * 1000,
    useVmac,
  };
}

/** Cross-instance checks: unique names, unique (interface, family, VRID), sync groups that resolve. */
export function checkSpecs(specs: readonly VrrpInstanceSpec[], groups: readonly SyncGroupSpec[]): void {
  const names = new Set<string>();
  const vrids = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new VrrpSpecError(`duplicate vrrp instance ${s.name}`);
    names.add(s.name);
    const key = `${s.interface}/${s.family}/${s.vrid}`;
    if (vrids.has(key)) {
      throw new VrrpSpecError(`vrrp instance ${s.name}: VRID ${s.vrid} already used on ${s.interface}`);
    }
    vrids.add(key);
  }
  const grouped = new Set<string>();
  for (const g of groups) {
    for (const m of g.instances) {
      if (!names.has(m)) throw new VrrpSpecError(`sync group ${g.name}: unknown instance ${m}`);
      if (grouped.has(m)) throw new VrrpSpecError(`sync group ${g.name}: ${m} is already in another group`);
      grouped.add(m);
    }
  }
}

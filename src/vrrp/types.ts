// Typed values shared by the VRRP codec, core, adapter and simulation. No I/O here.
import type { Family } from "./addr.ts";

export type VrrpVersion = 2 | 3;
/** IPv4 VRRPv3 checksum: RFC 5798 (with the IPv4 pseudo-header) or as VRRPv2 computed it (without). */
export type ChecksumMode = "rfc5798" | "v2-compat";
export type Role = "initialize" | "backup" | "master" | "fault";

export const VRRP_PROTOCOL = 112;
export const VRRP_GROUP_V4 = "224.0.0.18";
export const VRRP_GROUP_V6 = "ff02::12";
export const MAX_VIPS_PER_INSTANCE = 64;
export const MIN_INTERVAL_CS = 1; // 10 ms, RFC 5798 12-bit centiseconds
export const MAX_INTERVAL_CS = 4095;

/** Something the instance follows: an interface's link state or a virtual service's health (quorum). */
export interface TrackSpec {
  /** "if:eth0" or "svc:web" etc.; the adapter and the integrator feed `track` inputs by this key. */
  readonly key: string;
  /**
   * keepalived's weight rule: 0 = the instance goes to FAULT while the object is down; a positive weight is
   * added to the priority while it is up; a negative weight is added (subtracted) while it is down.
   */
  readonly weight: number;
}

/** One VRRP instance, already validated (see validateSpec). Intervals in centiseconds for both versions. */
export interface VrrpInstanceSpec {
  readonly name: string;
  readonly interface: string;
  readonly family: Family;
  readonly vrid: number; // 1..255
  readonly priority: number; // 1..255; 255 = address owner
  readonly advertIntervalCs: number; // v3: 1..4095; v2: multiple of 100 up to 25500
  readonly version: VrrpVersion;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  readonly accept: boolean;
  /** CIDRs; the advert carries the addresses in this order. */
  readonly virtualAddresses: readonly string[];
  /** Interface of each virtual address (keepalived's `dev`), parallel to virtualAddresses. */
  readonly virtualAddressDevs: readonly string[];
  /** Source address of adverts and the tie-break key; for IPv6 a link-local address. */
  readonly primaryAddress: string;
  /** Empty = multicast to 224.0.0.18 / ff02::12. */
  readonly unicastPeers: readonly string[];
  readonly checksum: ChecksumMode;
  readonly tracks: readonly TrackSpec[];
  /** Gratuitous ARP / unsolicited NA burst on becoming master. */
  readonly garpCount: number;
  readonly garpIntervalMs: number;
  /** While master, one more GARP/NA round every this many ms (keepalived's garp_master_refresh); 0 = off. */
  readonly garpRefreshMs: number;
  /**
   * A second GARP/NA round this many ms after becoming master or answering a lower master (keepalived's
   * garp_master_delay); 0 = none. Clients ignore a changed ARP answer for locktime (1 s) after the last
   * update, so a round that raced the old master's can be lost: this one cannot.
   */
  readonly garpSecondRoundMs: number;
  readonly useVmac: boolean;
}

export interface SyncGroupSpec {
  readonly name: string;
  readonly instances: readonly string[];
}

/** A received advertisement after validation (codec + receive checks passed). */
export interface Advert {
  readonly version: VrrpVersion;
  readonly family: Family;
  readonly vrid: number;
  readonly priority: number;
  readonly intervalCs: number;
  readonly addresses: readonly string[];
  /** Source address of the IP packet: the sender's primary address. */
  readonly source: string;
}

export type CoreInput =
  | {
      readonly kind: "start";
      /** Instances to start as master (src/vrrp/resume.ts): this box was master just before a restart. */
      readonly resume?: readonly string[];
    }
  | { readonly kind: "packet"; readonly instance: string; readonly advert: Advert }
  | { readonly kind: "tick" }
  | { readonly kind: "track"; readonly key: string; readonly up: boolean }
  | { readonly kind: "shutdown" }
  | {
      readonly kind: "admin";
      readonly instance: string;
      /** undefined leaves the override alone; null clears it. */
      readonly priority?: number | null;
      /** As master: send priority 0 and step down to backup (a console "force failover"). */
      readonly resign?: boolean;
    };

/** What the instance puts on the wire; the adapter encodes one packet per destination (checksums differ). */
export interface OutgoingAdvert {
  readonly version: VrrpVersion;
  readonly family: Family;
  readonly vrid: number;
  readonly priority: number;
  readonly intervalCs: number;
  readonly addresses: readonly string[];
}

export interface StateChange {
  readonly instance: string;
  readonly from: Role;
  readonly to: Role;
  readonly reason: string;
  readonly priority: number;
  /** The sync group that moved this instance, if any. */
  readonly group?: string;
}

export type CoreAction =
  | { readonly kind: "send"; readonly instance: string; readonly advert: OutgoingAdvert }
  | {
      readonly kind: "addVip";
      readonly instance: string;
      readonly interface: string;
      readonly cidrs: readonly string[];
    }
  | {
      readonly kind: "delVip";
      readonly instance: string;
      readonly interface: string;
      readonly cidrs: readonly string[];
    }
  | {
      readonly kind: "garp";
      readonly instance: string;
      readonly interface: string;
      readonly addresses: readonly string[];
      readonly count: number;
      readonly intervalMs: number;
    }
  | { readonly kind: "event"; readonly change: StateChange };

export class VrrpSpecError extends Error {
  override readonly name = "VrrpSpecError";
}

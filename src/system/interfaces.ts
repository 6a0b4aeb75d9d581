// Applies the [[interface]] section of the config to the kernel: creates missing links (parents first),
// sets MTU, writes the ARP sysctls BEFORE the link goes up (a router that caches an ARP answer given
// under the wrong sysctls keeps it), adds addresses, sets the link up, adds routes.
// It never removes what it did not create: anything else that differs is reported, not changed.
// Idempotent: a second run over the same config makes no change.
import type { InterfaceConfig, RouteConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import {
  formatCidr,
  formatIp,
  type IpFamily,
  networkOf,
  parseCidr,
  parseIp,
  sameBytes,
} from "../netlink/ipaddr.ts";
import type { Rtnetlink } from "../netlink/rtnetlink.ts";
import type { Address, Link, Route } from "../netlink/rtnl-codec.ts";
import {
  applyIpv4Conf,
  getIpv4Conf,
  type Ipv4ConfKey,
  procSysctl,
  type SysctlIo,
  setIpv4Conf,
} from "./sysctl.ts";

export type InterfaceChange =
  | {
      readonly kind: "link-created";
      readonly name: string;
      readonly linkKind: string;
      readonly peer?: string;
    }
  | { readonly kind: "mtu"; readonly name: string; readonly before?: number; readonly after: number }
  | {
      readonly kind: "sysctl";
      readonly name: string;
      readonly path: string;
      readonly before: number;
      readonly after: number;
    }
  | { readonly kind: "link-up" | "link-down"; readonly name: string }
  | { readonly kind: "address-added"; readonly name: string; readonly address: string }
  | { readonly kind: "route-added"; readonly name: string; readonly route: string };

/** Something in the kernel differs from the config and was deliberately left alone. */
export interface InterfaceDifference {
  readonly name: string;
  readonly what: string;
}

/** A step that failed; later steps that depend on it were skipped. */
export interface InterfaceProblem {
  readonly name: string;
  readonly step: string;
  readonly error: string;
}

export interface InterfaceReport {
  readonly changes: InterfaceChange[];
  readonly differences: InterfaceDifference[];
  readonly problems: InterfaceProblem[];
  /** True when every configured interface was brought to its configured state. */
  readonly ok: boolean;
}

export interface ApplyInterfacesOptions {
  /** Called right before a link is set up (tests observe ordering through it). */
  readonly beforeLinkUp?: (name: string) => void | Promise<void>;
  readonly sysctl?: SysctlIo;
}

type Log = Pick<Logger, "info" | "warn" | "error">;

/** The kernel's default route metric when none is given. */
const DEFAULT_METRIC: Record<IpFamily, number> = { 4: 0, 6: 1024 };
const MAIN_TABLE = 254;
const MAX_INTERFACES = 4096;

export async function applyInterfaces(
  nl: Rtnetlink,
  specs: readonly InterfaceConfig[],
  log: Log,
  options: ApplyInterfacesOptions = {},
): Promise<InterfaceReport> {
  const report: InterfaceReport = { changes: [], differences: [], problems: [], ok: true };
  const problems = report.problems;
  if (specs.length > MAX_INTERFACES) {
    problems.push({ name: "*", step: "validate", error: `more than ${MAX_INTERFACES} interfaces` });
    return { ...report, ok: false };
  }
  const ordered = orderParentsFirst(specs, problems);
  const failed = new Set<string>();
  const change = (c: InterfaceChange) => {
    report.changes.push(c);
    log.info({ event: "net.interface.changed", ...c }, describeChange(c));
  };
  const differ = (name: string, what: string) => {
    report.differences.push({ name, what });
    log.warn({ event: "net.interface.differs", name, what }, `${name}: ${what} (left alone)`);
  };

  for (const spec of ordered) {
    const parentFailed = spec.link !== undefined && spec.kind !== "veth" && failed.has(spec.link);
    if (parentFailed) {
      failed.add(spec.name);
      problems.push({ name: spec.name, step: "create", error: `parent ${spec.link} failed` });
      continue;
    }
    let step = "create";
    try {
      const link = await ensureLink(nl, spec, change, differ);
      step = "mtu";
      if (spec.mtu !== undefined && link.mtu !== spec.mtu) {
        await nl.setMtu(spec.name, spec.mtu);
        change({
          kind: "mtu",
          name: spec.name,
          ...(link.mtu !== undefined && { before: link.mtu }),
          after: spec.mtu,
        });
      }
      step = "sysctl";
      if (spec.sysctl) {
        for (const c of applyIpv4Conf(spec.name, spec.sysctl, options.sysctl ?? procSysctl)) {
          change({ kind: "sysctl", name: spec.name, path: c.path, before: c.before, after: c.after });
        }
        reconcileWithAll(spec, options.sysctl ?? procSysctl, change, differ);
      }
      step = "addresses";
      await ensureAddresses(nl, spec, link, change, differ, problems);
      step = "up";
      if (spec.up && !link.up) {
        await options.beforeLinkUp?.(spec.name);
        await nl.setLinkUp(spec.name, true);
        change({ kind: "link-up", name: spec.name });
      } else if (!spec.up && link.up) {
        await nl.setLinkUp(spec.name, false);
        change({ kind: "link-down", name: spec.name });
      }
      step = "routes";
      await ensureRoutes(nl, spec, link, change, differ, problems);
    } catch (err) {
      failed.add(spec.name);
      const error = err instanceof Error ? err.message : String(err);
      problems.push({ name: spec.name, step, error });
      log.error(
        { event: "net.interface.failed", name: spec.name, step, error },
        `${spec.name}: ${step} failed`,
      );
    }
  }
  return { ...report, ok: problems.length === 0 };
}

/** Parents (vlan/macvlan `link`) before children; cycles and unknown kinds become problems. */
function orderParentsFirst(
  specs: readonly InterfaceConfig[],
  problems: InterfaceProblem[],
): InterfaceConfig[] {
  const byName = new Map<string, InterfaceConfig>();
  for (const s of specs) {
    if (byName.has(s.name)) problems.push({ name: s.name, step: "validate", error: "configured twice" });
    else byName.set(s.name, s);
  }
  const out: InterfaceConfig[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (s: InterfaceConfig, depth: number) => {
    const st = state.get(s.name);
    if (st === "done") return;
    if (st === "visiting" || depth > byName.size) {
      problems.push({ name: s.name, step: "validate", error: "parent links form a cycle" });
      return;
    }
    state.set(s.name, "visiting");
    const parent = s.kind === "vlan" || s.kind === "macvlan" ? byName.get(s.link ?? "") : undefined;
    if (parent) visit(parent, depth + 1);
    state.set(s.name, "done");
    out.push(s);
  };
  for (const s of byName.values()) visit(s, 0);
  return out;
}

async function ensureLink(
  nl: Rtnetlink,
  spec: InterfaceConfig,
  change: (c: InterfaceChange) => void,
  differ: (name: string, what: string) => void,
): Promise<Link> {
  const existing = await nl.getLink(spec.name);
  if (existing) {
    await checkLinkMatches(nl, spec, existing, differ);
    return existing;
  }
  switch (spec.kind) {
    case "ethernet":
      throw new Error("no such ethernet interface");
    case "dummy":
      await nl.createDummy(spec.name);
      break;
    case "veth": {
      if (!spec.link) throw new Error("veth needs a peer name (link)");
      if (await nl.getLink(spec.link)) throw new Error(`veth peer ${spec.link} exists without ${spec.name}`);
      await nl.createVeth(spec.name, spec.link);
      change({ kind: "link-created", name: spec.name, linkKind: "veth", peer: spec.link });
      return nl.requireLink(spec.name);
    }
    case "vlan":
      if (!spec.link || spec.vlan_id === undefined) throw new Error("vlan needs link and vlan_id");
      await nl.createVlan(spec.name, spec.link, spec.vlan_id);
      break;
    case "macvlan":
      if (!spec.link) throw new Error("macvlan needs link");
      await nl.createMacvlan(spec.name, spec.link, spec.macvlan_mode ?? "bridge");
      break;
  }
  change({ kind: "link-created", name: spec.name, linkKind: spec.kind });
  return nl.requireLink(spec.name);
}

async function checkLinkMatches(
  nl: Rtnetlink,
  spec: InterfaceConfig,
  link: Link,
  differ: (name: string, what: string) => void,
): Promise<void> {
  if (spec.kind === "ethernet") return;
  if (link.kind !== spec.kind) {
    differ(spec.name, `is a ${link.kind ?? "hardware"} link, config says ${spec.kind}`);
    return;
  }
  if (spec.kind === "vlan" && spec.vlan_id !== undefined && link.vlanId !== spec.vlan_id) {
    differ(spec.name, `has VLAN id ${link.vlanId}, config says ${spec.vlan_id}`);
  }
  if (spec.kind === "macvlan" && spec.macvlan_mode !== undefined && link.macvlanMode !== spec.macvlan_mode) {
    differ(spec.name, `has macvlan mode ${link.macvlanMode}, config says ${spec.macvlan_mode}`);
  }
  if ((spec.kind === "vlan" || spec.kind === "macvlan") && spec.link !== undefined) {
    const parent = await nl.getLink(spec.link);
    if (parent && link.parentIndex !== parent.index) differ(spec.name, `is not on parent ${spec.link}`);
  }
}

function isIpv6LinkLocal(a: Address): boolean {
  return a.family === 6 && a.bytes[0] === 0xfe && (a.bytes[1]! & 0xc0) === 0x80;
}

async function ensureAddresses(
  nl: Rtnetlink,
  spec: InterfaceConfig,
  link: Link,
  change: (c: InterfaceChange) => void,
  differ: (name: string, what: string) => void,
  problems: InterfaceProblem[],
): Promise<void> {
  const present = await nl.listAddresses({ index: link.index });
  const wanted = spec.addresses.map((a) => parseCidr(a));
  for (const want of wanted) {
    const same = present.find((p) => p.family === want.family && sameBytes(p.bytes, want.bytes));
    if (same) {
      if (same.prefixLength !== want.prefixLength) {
        differ(spec.name, `has ${same.address}/${same.prefixLength}, config says /${want.prefixLength}`);
      }
      continue;
    }
    const cidr = formatCidr(want);
    try {
      await nl.addAddress(link.index, cidr);
      change({ kind: "address-added", name: spec.name, address: cidr });
    } catch (err) {
      problems.push({ name: spec.name, step: `address ${cidr}`, error: (err as Error).message });
    }
  }
  for (const p of present) {
    if (isIpv6LinkLocal(p)) continue;
    if (!wanted.some((w) => w.family === p.family && sameBytes(w.bytes, p.bytes))) {
      differ(spec.name, `has address ${p.address}/${p.prefixLength} that the config does not list`);
    }
  }
}

interface WantedRoute {
  readonly config: RouteConfig;
  readonly family: IpFamily;
  readonly dst: string;
  readonly via?: string;
  readonly metric: number;
  readonly table: number;
}

function wantedRoute(r: RouteConfig): WantedRoute {
  const via = r.via === undefined ? undefined : parseIp(r.via);
  const family: IpFamily = via?.family ?? (r.to === "default" ? 4 : parseCidr(r.to).family);
  const dst =
    r.to === "default" ? (family === 4 ? "0.0.0.0/0" : "::/0") : formatCidr(networkOf(parseCidr(r.to)));
  return {
    config: r,
    family,
    dst,
    ...(via !== undefined && { via: formatIp(via.bytes) }),
    metric: r.metric ?? DEFAULT_METRIC[family],
    table: r.table ?? MAIN_TABLE,
  };
}

async function ensureRoutes(
  nl: Rtnetlink,
  spec: InterfaceConfig,
  link: Link,
  change: (c: InterfaceChange) => void,
  differ: (name: string, what: string) => void,
  problems: InterfaceProblem[],
): Promise<void> {
  if (spec.routes.length === 0) return;
  const present = await nl.listRoutes();
  for (const r of spec.routes) {
    let w: WantedRoute;
    try {
      w = wantedRoute(r);
    } catch (err) {
      problems.push({ name: spec.name, step: `route ${r.to}`, error: (err as Error).message });
      continue;
    }
    const text = `${w.dst}${w.via ? ` via ${w.via}` : ""} metric ${w.metric} table ${w.table}`;
    const slot = present.filter(
      (p: Route) =>
        p.family === w.family && p.dst === w.dst && p.table === w.table && (p.priority ?? 0) === w.metric,
    );
    if (slot.some((p) => p.oif === link.index && p.gateway === w.via)) continue;
    if (slot.length > 0) {
      const p = slot[0]!;
      differ(
        spec.name,
        `route ${w.dst} table ${w.table} metric ${w.metric} goes via ${p.gateway ?? "-"} oif ${p.oif}`,
      );
      continue;
    }
    try {
      await nl.addRoute({
        to: w.dst,
        ...(w.via !== undefined && { via: w.via }),
        dev: link.index,
        metric: w.metric,
        table: w.table,
        family: w.family,
      });
      change({ kind: "route-added", name: spec.name, route: text });
    } catch (err) {
      problems.push({ name: spec.name, step: `route ${text}`, error: (err as Error).message });
    }
  }
}

/**
 * The kernel combines some per-interface values with net.ipv4.conf.all: arp_ignore, arp_announce and
 * rp_filter take the maximum; send_redirects and arp_filter are on if either is. For the "or" keys an
 * interface configured off needs "all" off too (interfaces not configured keep their own value 1, so they
 * are unaffected); this matters for NAT directors, whose ICMP redirects would send real servers' replies
 * around the director. For the "max" keys, report when "all" makes the configured value ineffective.
 */
function reconcileWithAll(
  spec: InterfaceConfig,
  io: SysctlIo,
  change: (c: InterfaceChange) => void,
  differ: (name: string, what: string) => void,
): void {
  const s = spec.sysctl;
  if (!s) return;
  const max = (key: Ipv4ConfKey, want: number | undefined) => {
    if (want === undefined) return;
    const all = getIpv4Conf("all", key, io);
    if (Math.max(all, want) !== want)
      differ(spec.name, `${key}=${want} is overridden by conf.all.${key}=${all}`);
  };
  const or = (key: Ipv4ConfKey, want: boolean | undefined) => {
    if (want !== false) return;
    const c = setIpv4Conf("all", key, 0, io);
    if (c) change({ kind: "sysctl", name: "all", path: c.path, before: c.before, after: c.after });
  };
  max("arp_ignore", s.arp_ignore);
  max("arp_announce", s.arp_announce);
  max("rp_filter", s.rp_filter);
  or("arp_filter", s.arp_filter);
  or("send_redirects", s.send_redirects);
}

function describeChange(c: InterfaceChange): string {
  switch (c.kind) {
    case "link-created":
      return `${c.name}: created ${c.linkKind} link${c.peer ? ` (peer ${c.peer})` : ""}`;
    case "mtu":
      return `${c.name}: MTU ${c.before ?? "?"} -> ${c.after}`;
    case "sysctl":
      return `${c.name}: ${c.path} ${c.before} -> ${c.after}`;
    case "link-up":
      return `${c.name}: up`;
    case "link-down":
      return `${c.name}: down`;
    case "address-added":
      return `${c.name}: added address ${c.address}`;
    case "route-added":
      return `${c.name}: added route ${c.route}`;
  }
}

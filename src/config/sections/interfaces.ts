// [interfaces.<ifname>]: links, VLANs, macvlans, MTU, addresses, routes and ARP sysctls.

import { ARP_ROLE_SYSCTLS, DEFAULTS } from "../defaults.ts";
import { didYouMean } from "../errors.ts";
import {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIp,
  hasHostBits,
  isLinkLocalV6,
  networkOf,
  parseCidr,
  sameIp,
} from "../net.ts";
import type { PathSeg } from "../path.ts";
import { type Ctx, TableReader as Reader, readCidr, type TableReader } from "../reader.ts";
import type { ArpRole, InterfaceConfig, InterfaceKind, InterfaceSysctls, RouteConfig } from "../types.ts";

export const SYSCTL_KEYS = [
  "arp_ignore",
  "arp_announce",
  "arp_filter",
  "rp_filter",
  "send_redirects",
] as const;
export const INTERFACE_KEYS = [
  "kind",
  "link",
  "vlan_id",
  "macvlan_mode",
  "mtu",
  "up",
  "addresses",
  "routes",
  "arp_role",
  ...SYSCTL_KEYS,
];
export const ROUTE_KEYS = ["to", "via", "metric", "table"];
const KINDS: readonly InterfaceKind[] = ["ethernet", "vlan", "macvlan", "dummy", "veth"];
const MACVLAN_MODES = ["private", "vepa", "bridge", "passthru"] as const;
const ARP_ROLES: readonly ArpRole[] = ["director", "realserver", "default"];
const MAX_IFNAME_BYTES = 15;
const MAX_U32 = 4294967295;

/** Interface config plus what later cross-checks need, kept apart from the public contract. */
export interface ReadInterface {
  readonly config: InterfaceConfig;
  readonly path: PathSeg[];
  /** parsed addresses with their value paths */
  readonly cidrs: ReadonlyArray<{ cidr: Cidr; path: PathSeg[] }>;
}

export function ifnameProblem(name: string): string | undefined {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0) return "interface name must not be empty";
  if (bytes > MAX_IFNAME_BYTES) {
    return `interface name '${name}' is ${bytes} bytes; allowed: at most ${MAX_IFNAME_BYTES} (kernel IFNAMSIZ)`;
  }
  if (name === "." || name === ".." || /[/:\s]/.test(name)) {
    return `interface name '${name}' is not allowed; no '/', ':' or whitespace, and not '.' or '..'`;
  }
  return undefined;
}

export function readInterfaces(ctx: Ctx, root: TableReader): ReadInterface[] {
  const out: ReadInterface[] = [];
  for (const [name, raw, path] of root.entries("interfaces")) {
    const r = readInterface(ctx, name, raw, path);
    if (r !== undefined) out.push(r);
  }
  checkLinks(ctx, out);
  checkDuplicateAddresses(ctx, out);
  return out;
}

function readInterface(ctx: Ctx, name: string, raw: unknown, path: PathSeg[]): ReadInterface | undefined {
  const t = Reader.open(ctx, path, raw, INTERFACE_KEYS);
  if (t === undefined) return undefined;
  const nameProblem = ifnameProblem(name);
  if (nameProblem !== undefined) ctx.keyError(path, nameProblem);

  const kind = t.enumOf("kind", KINDS, "interface kind") ?? DEFAULTS.interface.kind;
  const needsLink = kind === "vlan" || kind === "macvlan" || kind === "veth";
  if (needsLink) t.require("link", kind === "veth" ? " (the peer's name)" : " (the parent interface)");
  else t.notAllowed("link", `link applies only to kind vlan, macvlan or veth (this interface is ${kind})`);
  const link = needsLink ? t.string("link", { nonEmpty: true }) : undefined;
  if (link !== undefined) {
    const p = ifnameProblem(link);
    if (p !== undefined) ctx.valueError(t.at("link"), p);
  }

  let vlanId: number | undefined;
  if (kind === "vlan") {
    t.require("vlan_id", " (1..4094)");
    vlanId = t.int("vlan_id", 1, 4094);
  } else {
    t.notAllowed("vlan_id", `vlan_id applies only to kind = "vlan" (this interface is ${kind})`);
  }
  let macvlanMode: InterfaceConfig["macvlan_mode"];
  if (kind === "macvlan") {
    macvlanMode = t.enumOf("macvlan_mode", MACVLAN_MODES, "macvlan mode") ?? DEFAULTS.interface.macvlan_mode;
  } else {
    t.notAllowed("macvlan_mode", `macvlan_mode applies only to kind = "macvlan" (this interface is ${kind})`);
  }

  const mtu = t.int("mtu", 68, 65535);
  const up = t.bool("up") ?? DEFAULTS.interface.up;

  const cidrs: Array<{ cidr: Cidr; path: PathSeg[] }> = [];
  t.list("addresses", (p, item) => {
    const c = readCidr(ctx, p, item);
    if (c !== undefined) cidrs.push({ cidr: c, path: p });
    return c;
  });
  if (mtu !== undefined && mtu < 1280) {
    const v6 = cidrs.find((c) => c.cidr.addr.family === 6);
    if (v6 !== undefined)
      ctx.valueError(t.at("mtu"), `mtu ${mtu} is below 1280, the minimum for IPv6 (${formatCidr(v6.cidr)})`);
  }

  const routes = t.list("routes", (p, item) => readRoute(ctx, p, item, cidrs)) ?? [];
  const sysctl = readSysctls(t);

  const config: InterfaceConfig = {
    name,
    kind,
    ...(link === undefined ? {} : { link }),
    ...(vlanId === undefined ? {} : { vlan_id: vlanId }),
    ...(macvlanMode === undefined ? {} : { macvlan_mode: macvlanMode }),
    ...(mtu === undefined ? {} : { mtu }),
    up,
    addresses: cidrs.map((c) => formatCidr(c.cidr)),
    routes,
    ...(sysctl.values === undefined ? {} : { sysctl: sysctl.values }),
    ...(sysctl.role === undefined ? {} : { arp_role: sysctl.role }),
    pos: ctx.sourcePos(path),
  };
  return { config, path, cidrs };
}

function readRoute(
  ctx: Ctx,
  path: PathSeg[],
  raw: unknown,
  connected: ReadonlyArray<{ cidr: Cidr }>,
): RouteConfig | undefined {
  const t = Reader.open(ctx, path, raw, ROUTE_KEYS);
  if (t === undefined) return undefined;
  if (!t.require("to", ' (a destination CIDR or "default")')) return undefined;
  const toRaw = t.get("to");
  const viaAddr = t.ip("via");
  let to: Cidr | undefined;
  if (toRaw === "default") {
    const fam = viaAddr?.family ?? 4;
    to = parseCidr(fam === 4 ? "0.0.0.0/0" : "::/0");
  } else {
    to = readCidr(ctx, t.at("to"), toRaw);
    if (to !== undefined && hasHostBits(to)) {
      ctx.valueError(
        t.at("to"),
        `route destination ${formatCidr(to)} has host bits set; did you mean ${formatCidr(networkOf(to))}?`,
      );
      to = undefined;
    }
  }
  if (to !== undefined && viaAddr !== undefined) {
    if (to.addr.family !== viaAddr.family) {
      ctx.valueError(
        t.at("via"),
        `gateway ${formatIp(viaAddr)} is not the same address family as ${formatCidr(to)}`,
      );
    } else if (!isLinkLocalV6(viaAddr) && !connected.some((c) => cidrContains(c.cidr, viaAddr))) {
      const list = [
        ...new Set(
          connected
            .filter((c) => c.cidr.addr.family === viaAddr.family)
            .map((c) => formatCidr(networkOf(c.cidr))),
        ),
      ];
      ctx.valueError(
        t.at("via"),
        `gateway ${formatIp(viaAddr)} is not on a connected subnet of this interface; connected: ${list.length > 0 ? list.join(", ") : "none"}`,
      );
    }
  }
  const metric = t.int("metric", 0, MAX_U32);
  const table = t.int("table", 1, MAX_U32);
  if (to === undefined) return undefined;
  return {
    to: formatCidr(to),
    ...(viaAddr === undefined ? {} : { via: formatIp(viaAddr) }),
    ...(metric === undefined ? {} : { metric }),
    ...(table === undefined ? {} : { table }),
  };
}

function readSysctls(t: TableReader): { values?: Partial<InterfaceSysctls>; role?: ArpRole } {
  const role = t.enumOf("arp_role", ARP_ROLES, "arp_role");
  const values: Record<string, number | boolean> = role === undefined ? {} : { ...ARP_ROLE_SYSCTLS[role] };
  const ai = t.int("arp_ignore", 0, 8);
  if (ai !== undefined) {
    if (ai >= 4 && ai <= 7)
      t.ctx.valueError(t.at("arp_ignore"), `arp_ignore ${ai} is reserved; allowed: 0, 1, 2, 3, 8`);
    else values["arp_ignore"] = ai;
  }
  const aa = t.int("arp_announce", 0, 2);
  if (aa !== undefined) values["arp_announce"] = aa;
  const af = t.bool("arp_filter");
  if (af !== undefined) values["arp_filter"] = af;
  const rp = t.int("rp_filter", 0, 2);
  if (rp !== undefined) values["rp_filter"] = rp;
  const sr = t.bool("send_redirects");
  if (sr !== undefined) values["send_redirects"] = sr;
  const out: { values?: Partial<InterfaceSysctls>; role?: ArpRole } = {};
  if (Object.keys(values).length > 0) out.values = values as Partial<InterfaceSysctls>;
  if (role !== undefined) out.role = role;
  return out;
}

function checkLinks(ctx: Ctx, all: readonly ReadInterface[]): void {
  const byName = new Map(all.map((i) => [i.config.name, i]));
  const names = [...byName.keys()];
  for (const i of all) {
    const { link, kind, name } = i.config;
    if (link === undefined) continue;
    const linkPath = [...i.path, "link"];
    if (link === name) {
      ctx.valueError(
        linkPath,
        `interface '${name}' cannot be its own ${kind === "veth" ? "peer" : "parent"}`,
      );
      continue;
    }
    const target = byName.get(link);
    if (kind === "veth") {
      // The peer is created with the pair; if it is configured here too, it must point back.
      if (target !== undefined && (target.config.kind !== "veth" || target.config.link !== name)) {
        ctx.valueError(
          linkPath,
          `veth peer '${link}' is configured as kind ${target.config.kind}${target.config.link === undefined ? "" : ` with link '${target.config.link}'`}; a veth pair's peer must be kind = "veth" with link = "${name}"`,
        );
      }
      continue;
    }
    if (target === undefined) {
      ctx.valueError(
        linkPath,
        `parent interface '${link}' is not defined in [interfaces]${didYouMean(link, names)}; defined: ${names.join(", ")}`,
      );
      continue;
    }
    const mtu = i.config.mtu;
    const parentMtu = target.config.mtu;
    if (mtu !== undefined && parentMtu !== undefined && mtu > parentMtu) {
      ctx.valueError([...i.path, "mtu"], `mtu ${mtu} is larger than the parent '${link}' mtu ${parentMtu}`);
    }
  }
}

function checkDuplicateAddresses(ctx: Ctx, all: readonly ReadInterface[]): void {
  const seen: Array<{ cidr: Cidr; owner: string }> = [];
  for (const i of all) {
    for (const c of i.cidrs) {
      const dup = seen.find((s) => sameIp(s.cidr.addr, c.cidr.addr));
      if (dup !== undefined) {
        ctx.valueError(
          c.path,
          `address ${formatIp(c.cidr.addr)} is already assigned to interface '${dup.owner}'`,
        );
      } else {
        seen.push({ cidr: c.cidr, owner: i.config.name });
      }
    }
  }
}

// rtnetlink operations: links, addresses and routes, as typed requests over a NetlinkClient.
import { AF, NETLINK_PROTO } from "../../ffi/constants.ts";
import { NlWriter } from "./attrs.ts";
import { type ClientOptions, NetlinkClient, type NlRequest } from "./client.ts";
import { NLM_F } from "./constants.ts";
import { KernelError, NetlinkEncodeError } from "./errors.ts";
import {
  formatCidr,
  type IpFamily,
  type IpPrefix,
  parseCidr,
  parseIp,
  parseRouteDestination,
} from "./ipaddr.ts";
import {
  type Address,
  decodeAddress,
  decodeLink,
  decodeRoute,
  encodeIfAddrMsg,
  encodeIfInfoMsg,
  encodeRtMsg,
  type Link,
  type Route,
} from "./rtnl-codec.ts";
import {
  IFA,
  IFA_F,
  IFF,
  IFLA,
  IFLA_INFO,
  IFLA_MACVLAN,
  IFLA_VLAN,
  MACVLAN_MODE,
  type MacvlanMode,
  RT_SCOPE,
  RT_TABLE,
  RTA,
  RTM,
  RTN,
  RTPROT,
  VETH_INFO_PEER,
} from "./rtnl-constants.ts";
import { LibnlTransport } from "./transport.ts";

/** A link by kernel name or ifindex. */
export type LinkRef = string | number;

export interface CreateLinkOptions {
  readonly mtu?: number;
  /** Link-layer address "aa:bb:cc:dd:ee:ff" (e.g. a VRRP virtual MAC on a macvlan). */
  readonly mac?: string;
}

function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new NetlinkEncodeError(`bad MAC address ${JSON.stringify(mac)}`);
  }
  return new Uint8Array(parts.map((p) => Number.parseInt(p, 16)));
}

export interface AddressOptions {
  /** IPv6: skip duplicate address detection (the address is usable at once). */
  readonly noDad?: boolean;
  /** Replace an existing identical address instead of failing with EEXIST. */
  readonly replace?: boolean;
}

export interface RouteSpec {
  /** CIDR or "default". */
  readonly to: string;
  readonly via?: string;
  readonly dev?: LinkRef;
  readonly metric?: number;
  readonly table?: number;
  /** Family for "default" when via does not tell; defaults to IPv4. */
  readonly family?: IpFamily;
  /** RTPROT_* marker, RTPROT.STATIC unless given. */
  readonly protocol?: number;
}

const IFNAMSIZ = 16;
const afOf = (f: IpFamily) => (f === 4 ? AF.INET : AF.INET6);

function checkIfName(name: string): void {
  if (name.length === 0 || new TextEncoder().encode(name).byteLength >= IFNAMSIZ || /[\s/:]/.test(name)) {
    throw new NetlinkEncodeError(`bad interface name ${JSON.stringify(name)}`);
  }
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new NetlinkEncodeError(`bad MTU ${mtu}`);
}

/** ifinfomsg + IFLA_IFNAME when the link is named, else the index in the header. */
function linkHeader(w: NlWriter, ref: LinkRef, flags = 0, change = 0): NlWriter {
  if (typeof ref === "number") return w.raw(encodeIfInfoMsg({ index: ref, flags, change }));
  checkIfName(ref);
  return w.raw(encodeIfInfoMsg({ flags, change })).str(IFLA.IFNAME, ref);
}

export class Rtnetlink {
  constructor(readonly client: NetlinkClient) {}

  /** Opens a NETLINK_ROUTE socket in the calling thread's network namespace. */
  static open(options: ClientOptions = {}): Rtnetlink {
    const transport = LibnlTransport.open(NETLINK_PROTO.ROUTE, { receiveBufferBytes: 1 << 20 });
    return new Rtnetlink(new NetlinkClient(transport, options));
  }

  close(): Promise<void> {
    return this.client.close();
  }

  // ---- links ------------------------------------------------------------------------------------

  async listLinks(): Promise<Link[]> {
    const replies = await this.client.dump({
      type: RTM.GETLINK,
      flags: 0,
      payload: encodeIfInfoMsg({}),
      name: "RTM_GETLINK dump",
    });
    return replies.filter((m) => m.type === RTM.NEWLINK).map(decodeLink);
  }

  /** The link, or null when it does not exist. */
  async getLink(ref: LinkRef): Promise<Link | null> {
    try {
      const replies = await this.client.request({
        type: RTM.GETLINK,
        flags: 0,
        payload: linkHeader(new NlWriter(), ref).finish(),
        name: `RTM_GETLINK ${ref}`,
      });
      const m = replies.find((r) => r.type === RTM.NEWLINK);
      return m ? decodeLink(m) : null;
    } catch (err) {
      if (err instanceof KernelError && (err.code === "ENODEV" || err.code === "ENOENT")) return null;
      throw err;
    }
  }

  async requireLink(ref: LinkRef): Promise<Link> {
    const link = await this.getLink(ref);
    if (!link) throw new KernelError(19, `link ${ref}`, "no such interface");
    return link;
  }

  async setLinkUp(ref: LinkRef, up: boolean): Promise<void> {
    await this.client.request({
      type: RTM.NEWLINK,
      flags: 0,
      payload: linkHeader(new NlWriter(), ref, up ? IFF.UP : 0, IFF.UP).finish(),
      name: `set link ${ref} ${up ? "up" : "down"}`,
    });
  }

  async setMtu(ref: LinkRef, mtu: number): Promise<void> {
    checkMtu(mtu);
    await this.client.request({
      type: RTM.NEWLINK,
      flags: 0,
      payload: linkHeader(new NlWriter(), ref).u32(IFLA.MTU, mtu).finish(),
      name: `set link ${ref} mtu ${mtu}`,
    });
  }

  async createDummy(name: string, options: CreateLinkOptions = {}): Promise<void> {
    await this.createLink(name, "dummy", options);
  }

  async createVeth(name: string, peer: string, options: CreateLinkOptions = {}): Promise<void> {
    checkIfName(peer);
    await this.createLink(name, "veth", options, (w) => {
      w.nest(VETH_INFO_PEER, (p) => {
        p.raw(encodeIfInfoMsg({})).str(IFLA.IFNAME, peer);
        if (options.mtu !== undefined) p.u32(IFLA.MTU, options.mtu);
      });
    });
  }

  async createVlan(
    name: string,
    parent: LinkRef,
    vlanId: number,
    options: CreateLinkOptions = {},
  ): Promise<void> {
    if (!Number.isInteger(vlanId) || vlanId < 1 || vlanId > 4094)
      throw new NetlinkEncodeError(`bad VLAN id ${vlanId}`);
    const parentIndex = (await this.requireLink(parent)).index;
    await this.createLink(name, "vlan", options, (w) => w.u16(IFLA_VLAN.ID, vlanId), parentIndex);
  }

  async createMacvlan(
    name: string,
    parent: LinkRef,
    mode: MacvlanMode,
    options: CreateLinkOptions = {},
  ): Promise<void> {
    const parentIndex = (await this.requireLink(parent)).index;
    await this.createLink(
      name,
      "macvlan",
      options,
      (w) => w.u32(IFLA_MACVLAN.MODE, MACVLAN_MODE[mode]),
      parentIndex,
    );
  }

  private async createLink(
    name: string,
    kind: string,
    options: CreateLinkOptions,
    data?: (w: NlWriter) => void,
    parentIndex?: number,
  ): Promise<void> {
    checkIfName(name);
    if (options.mtu !== undefined) checkMtu(options.mtu);
    const w = new NlWriter().raw(encodeIfInfoMsg({})).str(IFLA.IFNAME, name);
    if (options.mtu !== undefined) w.u32(IFLA.MTU, options.mtu);
    if (options.mac !== undefined) w.attr(IFLA.ADDRESS, macBytes(options.mac));
    if (parentIndex !== undefined) w.u32(IFLA.LINK, parentIndex);
    w.nest(IFLA.LINKINFO, (li) => {
      li.str(IFLA_INFO.KIND, kind);
      if (data) li.nest(IFLA_INFO.DATA, data);
    });
    await this.client.request({
      type: RTM.NEWLINK,
      flags: NLM_F.CREATE | NLM_F.EXCL,
      payload: w.finish(),
      name: `create ${kind} link ${name}`,
    });
  }

  async deleteLink(ref: LinkRef): Promise<void> {
    await this.client.request({
      type: RTM.DELLINK,
      flags: 0,
      payload: linkHeader(new NlWriter(), ref).finish(),
      name: `delete link ${ref}`,
    });
  }

  // ---- addresses --------------------------------------------------------------------------------

  async listAddresses(
    filter: { readonly family?: IpFamily; readonly index?: number } = {},
  ): Promise<Address[]> {
    const replies = await this.client.dump({
      type: RTM.GETADDR,
      flags: 0,
      payload: encodeIfAddrMsg({
        family: filter.family ? afOf(filter.family) : AF.UNSPEC,
        prefixLength: 0,
        flags: 0,
        scope: 0,
        index: 0,
      }),
      name: "RTM_GETADDR dump",
    });
    return replies
      .filter((m) => m.type === RTM.NEWADDR)
      .map(decodeAddress)
      .filter((a) => filter.index === undefined || a.index === filter.index);
  }

  async addAddress(ref: LinkRef, cidr: string, options: AddressOptions = {}): Promise<void> {
    const index = await this.indexOf(ref);
    const flags = options.replace ? NLM_F.CREATE | NLM_F.REPLACE : NLM_F.CREATE | NLM_F.EXCL;
    await this.client.request(this.addressRequest(RTM.NEWADDR, flags, index, parseCidr(cidr), options, ref));
  }

  async deleteAddress(ref: LinkRef, cidr: string): Promise<void> {
    const index = await this.indexOf(ref);
    await this.client.request(this.addressRequest(RTM.DELADDR, 0, index, parseCidr(cidr), {}, ref));
  }

  private addressRequest(
    type: number,
    flags: number,
    index: number,
    p: IpPrefix,
    options: AddressOptions,
    ref: LinkRef,
  ): NlRequest {
    const extraFlags = options.noDad && p.family === 6 ? IFA_F.NODAD : 0;
    const w = new NlWriter()
      .raw(
        encodeIfAddrMsg({ family: afOf(p.family), prefixLength: p.prefixLength, flags: 0, scope: 0, index }),
      )
      .attr(IFA.LOCAL, p.bytes)
      .attr(IFA.ADDRESS, p.bytes);
    if (extraFlags) w.u32(IFA.FLAGS, extraFlags);
    const verb = type === RTM.NEWADDR ? "add" : "delete";
    return { type, flags, payload: w.finish(), name: `${verb} address ${formatCidr(p)} on ${ref}` };
  }

  // ---- routes -----------------------------------------------------------------------------------

  async listRoutes(filter: { readonly family?: IpFamily; readonly table?: number } = {}): Promise<Route[]> {
    const replies = await this.client.dump({
      type: RTM.GETROUTE,
      flags: 0,
      payload: encodeRtMsg({
        family: filter.family ? afOf(filter.family) : AF.UNSPEC,
        dstLength: 0,
        srcLength: 0,
        tos: 0,
        table: 0,
        protocol: 0,
        scope: 0,
        type: 0,
        flags: 0,
      }),
      name: "RTM_GETROUTE dump",
    });
    return replies
      .filter((m) => m.type === RTM.NEWROUTE)
      .map(decodeRoute)
      .filter((r) => filter.table === undefined || r.table === filter.table);
  }

  /** Adds a route; EEXIST if an identical one is present. */
  async addRoute(spec: RouteSpec): Promise<void> {
    await this.client.request(await this.routeRequest(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, spec));
  }

  /** Adds or replaces the route for the same destination/metric/table. */
  async replaceRoute(spec: RouteSpec): Promise<void> {
    await this.client.request(await this.routeRequest(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, spec));
  }

  async deleteRoute(spec: RouteSpec): Promise<void> {
    await this.client.request(await this.routeRequest(RTM.DELROUTE, 0, spec));
  }

  private async routeRequest(type: number, flags: number, spec: RouteSpec): Promise<NlRequest> {
    const gw = spec.via === undefined ? undefined : parseIp(spec.via);
    const family: IpFamily =
      gw?.family ?? (spec.to === "default" ? (spec.family ?? 4) : parseCidr(spec.to).family);
    const dst = parseRouteDestination(spec.to, family);
    if (dst.family !== family)
      throw new NetlinkEncodeError(`route ${spec.to} via ${spec.via}: mixed address families`);
    if (gw === undefined && spec.dev === undefined)
      throw new NetlinkEncodeError(`route ${spec.to}: needs via or dev`);
    const table = spec.table ?? RT_TABLE.MAIN;
    if (!Number.isInteger(table) || table < 1 || table > 0xffffffff)
      throw new NetlinkEncodeError(`bad table ${table}`);
    const oif = spec.dev === undefined ? undefined : await this.indexOf(spec.dev);
    const deleting = type === RTM.DELROUTE;
    const w = new NlWriter().raw(
      encodeRtMsg({
        family: afOf(family),
        dstLength: dst.prefixLength,
        srcLength: 0,
        tos: 0,
        table: table < 256 ? table : RT_TABLE.UNSPEC,
        protocol: deleting ? RTPROT.UNSPEC : (spec.protocol ?? RTPROT.STATIC),
        // NOWHERE on delete matches a route of any scope, as iproute2 does.
        scope: deleting ? RT_SCOPE.NOWHERE : gw ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK,
        type: deleting ? RTN.UNSPEC : RTN.UNICAST,
        flags: 0,
      }),
    );
    if (dst.prefixLength > 0) w.attr(RTA.DST, dst.bytes);
    if (gw) w.attr(RTA.GATEWAY, gw.bytes);
    if (oif !== undefined) w.u32(RTA.OIF, oif);
    if (spec.metric !== undefined) w.u32(RTA.PRIORITY, spec.metric);
    w.u32(RTA.TABLE, table);
    const what = `${spec.to}${spec.via ? ` via ${spec.via}` : ""}${spec.dev !== undefined ? ` dev ${spec.dev}` : ""}`;
    const verb = deleting ? "delete" : (flags & NLM_F.REPLACE) !== 0 ? "replace" : "add";
    return { type, flags, payload: w.finish(), name: `${verb} route ${what}` };
  }

  private async indexOf(ref: LinkRef): Promise<number> {
    return typeof ref === "number" ? ref : (await this.requireLink(ref)).index;
  }
}

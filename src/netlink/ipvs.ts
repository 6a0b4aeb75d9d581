// IPVS over generic netlink: read the kernel's table, apply reconciler ops in batches (each acked),
// timeouts, info, and the connection sync daemon. Errors name the service and real server they concern.
import { NETLINK_PROTO } from "../../ffi/constants.ts";
import { resolveGenlFamily } from "../../ffi/libnl.ts";
import type { KernelService, ServiceKey } from "../ipvs/model.ts";
import { hostPort, serviceKeyString } from "../ipvs/model.ts";
import type { IpvsOp } from "../ipvs/reconcile.ts";
import { type ClientOptions, NetlinkClient, type NlRequest } from "./client.ts";
import { NLM_F } from "./constants.ts";
import {
  decodeDaemon,
  decodeDest,
  decodeIpvsInfo,
  decodeIpvsReply,
  decodeService,
  encodeDaemon,
  encodeDest,
  encodeDestKey,
  encodeService,
  encodeServiceKey,
  IPVS_CMD,
  IPVS_GENL_NAME,
  type IpvsInfo,
  type IpvsTimeouts,
  ipvsMessage,
  type SyncDaemonSpec,
  type SyncDaemonStatus,
} from "./ipvs-codec.ts";
import { LibnlTransport } from "./transport.ts";

export type { IpvsInfo, IpvsTimeouts, SyncDaemonSpec, SyncDaemonStatus };

export interface OpResult {
  readonly op: IpvsOp;
  readonly error: Error | null;
}

/** ipvsadm's label for a service: "TCP  10.0.0.1:80", "FWM  7". */
export function serviceLabel(key: ServiceKey): string {
  if (key.kind === "fwmark") return `FWM  ${key.fwmark}${key.family === 6 ? " IPv6" : ""}`;
  return `${key.protocol.toUpperCase()}  ${hostPort(key.address, key.port)}`;
}

export function describeOp(op: IpvsOp): string {
  switch (op.op) {
    case "addService":
      return `add service ${serviceLabel(op.key)} (${op.options.scheduler})`;
    case "editService":
      return `edit service ${serviceLabel(op.key)} (${op.options.scheduler})`;
    case "delService":
      return `delete service ${serviceLabel(op.key)}`;
    case "addDest":
      return `add real server ${hostPort(op.dest.address, op.dest.port)} to ${serviceLabel(op.service)}`;
    case "editDest":
      return `edit real server ${hostPort(op.dest.address, op.dest.port)} in ${serviceLabel(op.service)} (weight ${op.dest.weight})`;
    case "delDest":
      return `delete real server ${hostPort(op.dest.address, op.dest.port)} from ${serviceLabel(op.service)}`;
  }
}

export class Ipvs {
  private constructor(
    private readonly client: NetlinkClient,
    readonly familyId: number,
  ) {}

  /** Opens a generic-netlink socket and resolves the IPVS family (ip_vs must be loaded). */
  static open(options: ClientOptions = {}): Ipvs {
    const family = resolveGenlFamily(IPVS_GENL_NAME);
    const transport = LibnlTransport.open(NETLINK_PROTO.GENERIC, { receiveBufferBytes: 4 << 20 });
    return new Ipvs(new NetlinkClient(transport, options), family.id);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** Cumulative time in send, receive and waiting for readiness (benchmarks, metrics). */
  get timing(): Readonly<NetlinkClient["timing"]> {
    return this.client.timing;
  }

  private req(
    cmd: number,
    attrs: Parameters<typeof ipvsMessage>[1],
    name: string | (() => string),
    flags = 0,
  ): NlRequest {
    return { type: this.familyId, flags, payload: ipvsMessage(cmd, attrs), name };
  }

  async info(): Promise<IpvsInfo> {
    const [reply] = await this.client.request(this.req(IPVS_CMD.GET_INFO, {}, "IPVS_CMD_GET_INFO"));
    if (!reply) throw new Error("IPVS_CMD_GET_INFO: no reply");
    return decodeIpvsInfo(reply.payload);
  }

  /** The whole table: every service with its real servers, counters and 64-bit stats. */
  async listServices(): Promise<KernelService[]> {
    const replies = await this.client.dump(this.req(IPVS_CMD.GET_SERVICE, {}, "IPVS service dump"));
    const services: KernelService[] = [];
    for (const r of replies) {
      const svc = decodeIpvsReply(r.payload).attrs.service;
      if (!svc) continue;
      const bare = decodeService(svc);
      services.push({ ...bare, dests: await this.listDests(bare.key) });
    }
    return services;
  }

  async listDests(key: ServiceKey): Promise<KernelService["dests"]> {
    const replies = await this.client.dump(
      this.req(IPVS_CMD.GET_DEST, { service: encodeServiceKey(key) }, `IPVS dest dump ${serviceLabel(key)}`),
    );
    const out = [];
    for (const r of replies) {
      const d = decodeIpvsReply(r.payload).attrs.dest;
      if (d) out.push(decodeDest(d, key.family));
    }
    return out;
  }

  /** Sends the ops batched (several per send), each acked; returns one result per op, in order. */
  async apply(ops: readonly IpvsOp[]): Promise<OpResult[]> {
    const reqs = ops.map((op) => this.opRequest(op));
    const results = await this.client.batch(reqs);
    return ops.map((op, i) => {
      const r = results[i];
      if (!r) return { op, error: new Error(`${describeOp(op)}: no result`) };
      if (r.ok) return { op, error: null };
      return { op, error: new Error(`${describeOp(op)}: ${r.error.message}`, { cause: r.error }) };
    });
  }

  private opRequest(op: IpvsOp): NlRequest {
    const name = () => describeOp(op);
    switch (op.op) {
      case "addService":
        return this.req(
          IPVS_CMD.NEW_SERVICE,
          { service: encodeService(op.key, op.options) },
          name,
          NLM_F.CREATE,
        );
      case "editService":
        return this.req(IPVS_CMD.SET_SERVICE, { service: encodeService(op.key, op.options) }, name);
      case "delService":
        return this.req(IPVS_CMD.DEL_SERVICE, { service: encodeServiceKey(op.key) }, name);
      case "addDest":
        return this.req(
          IPVS_CMD.NEW_DEST,
          { service: encodeServiceKey(op.service), dest: encodeDest(op.dest) },
          name,
          NLM_F.CREATE,
        );
      case "editDest":
        return this.req(
          IPVS_CMD.SET_DEST,
          { service: encodeServiceKey(op.service), dest: encodeDest(op.dest) },
          name,
        );
      case "delDest":
        return this.req(
          IPVS_CMD.DEL_DEST,
          { service: encodeServiceKey(op.service), dest: encodeDestKey(op.dest) },
          name,
        );
    }
  }

  async timeouts(): Promise<IpvsTimeouts> {
    const [reply] = await this.client.request(this.req(IPVS_CMD.GET_CONFIG, {}, "IPVS_CMD_GET_CONFIG"));
    if (!reply) throw new Error("IPVS_CMD_GET_CONFIG: no reply");
    const a = decodeIpvsReply(reply.payload).attrs;
    return { tcp: a.timeoutTcp ?? 0, tcpFin: a.timeoutTcpFin ?? 0, udp: a.timeoutUdp ?? 0 };
  }

  /** Sets the connection timeouts in seconds; 0 leaves a value unchanged (as ipvsadm --set). */
  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    await this.client.request(
      this.req(
        IPVS_CMD.SET_CONFIG,
        { timeoutTcp: t.tcp, timeoutTcpFin: t.tcpFin, timeoutUdp: t.udp },
        `set IPVS timeouts tcp ${t.tcp} tcpfin ${t.tcpFin} udp ${t.udp}`,
      ),
    );
  }

  async syncDaemons(): Promise<SyncDaemonStatus[]> {
    const replies = await this.client.dump(this.req(IPVS_CMD.GET_DAEMON, {}, "IPVS daemon dump"));
    const out: SyncDaemonStatus[] = [];
    for (const r of replies) {
      const d = decodeIpvsReply(r.payload).attrs.daemon;
      if (d) out.push(decodeDaemon(d));
    }
    return out;
  }

  async startSyncDaemon(spec: SyncDaemonSpec): Promise<void> {
    await this.client.request(
      this.req(
        IPVS_CMD.NEW_DAEMON,
        { daemon: encodeDaemon(spec) },
        `start IPVS sync daemon ${spec.state} on ${spec.interface} syncid ${spec.syncId}`,
      ),
    );
  }

  async stopSyncDaemon(state: "master" | "backup"): Promise<void> {
    await this.client.request(
      this.req(
        IPVS_CMD.DEL_DAEMON,
        { daemon: { state: state === "master" ? 1 : 2 } },
        `stop IPVS sync ${state}`,
      ),
    );
  }

  /** Zeroes the counters of one service, or of all services. */
  async zero(key?: ServiceKey): Promise<void> {
    const attrs = key ? { service: encodeServiceKey(key) } : {};
    await this.client.request(
      this.req(IPVS_CMD.ZERO, attrs, key ? `zero ${serviceKeyString(key)}` : "zero all IPVS counters"),
    );
  }
}

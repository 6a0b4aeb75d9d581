// One BoxSnapshot from the parts of the running box: config, VRRP's last stats, the IPVS table as last
// read, the health layer's state, and the event ring. Pure over its inputs: no I/O, never blocks.
import type { Config, ServiceConfig } from "../config/types.ts";
import type { ServiceSnapshot as HealthServiceSnapshot } from "../health/core.ts";
import { serviceKeyOf } from "../ipvs/desired.ts";
import { hostPort, type KernelService, serviceKeyString } from "../ipvs/model.ts";
import { serviceLabel } from "../netlink/ipvs.ts";
import type {
  BoxSnapshot,
  EventSnapshot,
  LogLineSnapshot,
  RealServerSnapshot,
  ServiceSnapshot,
  UpdateSnapshot,
  VrrpInstanceSnapshot,
  VrrpStateName,
} from "../state/snapshot.ts";
import type { WorkerStats } from "../vrrp/protocol.ts";
import type { Role } from "../vrrp/types.ts";

/** The VRRP core's roles in the names operators know from keepalived. */
export const STATE_NAMES: Record<Role, VrrpStateName> = {
  initialize: "INIT",
  backup: "BACKUP",
  master: "MASTER",
  fault: "FAULT",
};

export interface SnapshotSources {
  readonly config: Config;
  readonly version: string;
  readonly build: string;
  readonly startedAtMs: number;
  readonly nowMs: number;
  /** The health engine's clock now (monotonic ms): its check times are on it, snapshots are wall clock. */
  readonly healthNowMs: number;
  readonly vrrp: WorkerStats | null;
  /** Transitions and last reason per instance, kept from VRRP events. */
  readonly vrrpHistory: ReadonlyMap<string, { transitions: number; lastReason: string }>;
  readonly ipvs: readonly KernelService[];
  readonly health: (service: string) => HealthServiceSnapshot | undefined;
  readonly events: readonly EventSnapshot[];
  readonly update: UpdateSnapshot;
  /** The newest log lines, when kept. */
  readonly log?: readonly LogLineSnapshot[];
}

export function buildSnapshot(src: SnapshotSources): BoxSnapshot {
  return {
    hostname: src.config.system.hostname,
    version: src.version,
    build: src.build,
    startedAtMs: src.startedAtMs,
    nowMs: src.nowMs,
    vrrp: vrrpInstances(src),
    services: services(src),
    events: src.events,
    update: src.update,
    ...(src.log === undefined ? {} : { log: src.log }),
  };
}

function vrrpInstances(src: SnapshotSources): VrrpInstanceSnapshot[] {
  const live = new Map((src.vrrp?.instances ?? []).map((i) => [i.name, i]));
  return src.config.vrrp.instances.map((c) => {
    const l = live.get(c.name);
    const h = src.vrrpHistory.get(c.name);
    return {
      name: c.name,
      interface: c.interface,
      vrid: c.virtual_router_id,
      state: l ? STATE_NAMES[l.role] : "INIT",
      priority: c.priority,
      effectivePriority: l?.priority ?? c.priority,
      masterAddress: l?.master ?? null,
      vips: c.virtual_ipaddress.map((v) => v.cidr),
      transitions: h?.transitions ?? 0,
      lastReason: h?.lastReason ?? "",
    };
  });
}

function services(src: SnapshotSources): ServiceSnapshot[] {
  const kernel = new Map(src.ipvs.map((s) => [serviceKeyString(s.key), s]));
  return src.config.services.map((s) =>
    serviceSnapshot(s, kernel.get(serviceKeyString(serviceKeyOf(s))), src),
  );
}

function serviceSnapshot(
  s: ServiceConfig,
  k: KernelService | undefined,
  src: SnapshotSources,
): ServiceSnapshot {
  const key = serviceKeyOf(s);
  const health = src.health(s.name);
  const healthByReal = new Map((health?.reals ?? []).map((r) => [r.real, r]));
  const kernelByReal = new Map((k?.dests ?? []).map((d) => [hostPort(d.address, d.port), d]));
  const realServers: RealServerSnapshot[] = s.real.map((r) => {
    const id = hostPort(r.address, r.port);
    const h = healthByReal.get(id);
    const d = kernelByReal.get(id);
    const n = (v: bigint | undefined) => Number(v ?? 0n);
    return {
      address: r.address,
      port: r.port,
      method: r.method,
      configuredWeight: r.weight,
      weight: d?.weight ?? 0,
      health: h === undefined ? "unknown" : h.up ? "up" : "down",
      // A drain that finished leaves the real server disabled (out of the kernel's table) until an
      // operator enables it: to the operator it is still drained, not "up" at weight 0.
      draining: h?.admin === "drain" || h?.admin === "disabled",
      activeConns: d?.activeConns ?? 0,
      inactiveConns: d?.inactiveConns ?? 0,
      cps: n(d?.stats?.cps),
      inPps: n(d?.stats?.inPps),
      outPps: n(d?.stats?.outPps),
      inBps: n(d?.stats?.inBps),
      outBps: n(d?.stats?.outBps),
      conns: n(d?.stats?.conns),
      inBytes: n(d?.stats?.inBytes),
      outBytes: n(d?.stats?.outBytes),
      checks: (h?.history ?? []).map((e) => ({
        atMs: src.nowMs - (src.healthNowMs - e.atMs),
        ok: e.ok,
        latencyMs: e.latencyMs,
        reason: e.reason,
      })),
    };
  });
  return {
    name: s.name,
    label: serviceLabel(key),
    scheduler: s.scheduler,
    persistenceTimeout: s.persistence_timeout ?? 0,
    quorumUp: health?.quorumUp ?? true,
    realServers,
  };
}

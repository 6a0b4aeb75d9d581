// JSON views of a snapshot, shared by the SSH CLI's --json output and the management API, so scripts get
// the same shape from either. Field names follow ipvsadm's and keepalived's vocabulary.
import type { BoxSnapshot, RealServerSnapshot, ServiceSnapshot } from "../state/snapshot.ts";
import { forwardName, realId, realStatus } from "./ipvsadm.ts";

export function statusView(s: BoxSnapshot) {
  return {
    hostname: s.hostname,
    version: s.version,
    build: s.build,
    bootSlot: s.update.bootSlot,
    uptimeSeconds: Math.max(0, Math.floor((s.nowMs - s.startedAtMs) / 1000)),
    startedAt: isoTime(s.startedAtMs),
    now: isoTime(s.nowMs),
  };
}

export function vrrpView(s: BoxSnapshot) {
  return s.vrrp.map((v) => ({
    name: v.name,
    interface: v.interface,
    vrid: v.vrid,
    state: v.state,
    priority: v.priority,
    effectivePriority: v.effectivePriority,
    master: v.masterAddress,
    vips: [...v.vips],
    transitions: v.transitions,
    lastReason: v.lastReason,
  }));
}

export interface ServiceAddress {
  readonly protocol: string;
  readonly address: string | null;
  readonly port: number | null;
  readonly fwmark: number | null;
}

/** Splits ipvsadm's "TCP  192.0.2.10:80", "UDP  [2001:db8::1]:53" or "FWM  7" into its parts. */
export function parseServiceLabel(label: string): ServiceAddress {
  const [protocol = "", where = ""] = label.trim().split(/\s+/);
  if (protocol.toUpperCase() === "FWM") {
    const mark = Number(where);
    return { protocol: "FWM", address: null, port: null, fwmark: Number.isInteger(mark) ? mark : null };
  }
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(where);
  return {
    protocol: protocol.toUpperCase(),
    address: m?.[1] ?? (where || null),
    port: m?.[2] ? Number(m[2]) : null,
    fwmark: null,
  };
}

export function realView(r: RealServerSnapshot, withChecks: boolean) {
  return {
    id: realId(r),
    address: r.address,
    port: r.port,
    forward: forwardName(r.method),
    method: r.method,
    weight: r.weight,
    configuredWeight: r.configuredWeight,
    health: r.health,
    draining: r.draining,
    status: realStatus(r),
    activeConns: r.activeConns,
    inactiveConns: r.inactiveConns,
    conns: r.conns,
    inBytes: r.inBytes,
    outBytes: r.outBytes,
    cps: r.cps,
    inPps: r.inPps,
    outPps: r.outPps,
    inBps: r.inBps,
    outBps: r.outBps,
    ...(withChecks
      ? {
          checks: r.checks.map((c) => ({
            at: isoTime(c.atMs),
            ok: c.ok,
            latencyMs: c.latencyMs,
            reason: c.reason,
          })),
        }
      : {}),
  };
}

export function serviceView(svc: ServiceSnapshot, withChecks = false) {
  return {
    name: svc.name,
    label: svc.label,
    ...parseServiceLabel(svc.label),
    scheduler: svc.scheduler,
    persistenceTimeout: svc.persistenceTimeout,
    quorumUp: svc.quorumUp,
    realServers: svc.realServers.map((r) => realView(r, withChecks)),
  };
}

export function servicesView(s: BoxSnapshot) {
  return s.services.map((svc) => serviceView(svc));
}

export function eventsView(s: BoxSnapshot, limit: number) {
  return s.events.slice(-limit).map((e) => ({ at: isoTime(e.atMs), event: e.event, reason: e.reason }));
}

export function logView(s: BoxSnapshot, limit: number) {
  return (s.log ?? []).slice(-limit).map((l) => ({ at: isoTime(l.atMs), level: l.level, msg: l.msg }));
}

export function updateView(s: BoxSnapshot) {
  return { ...s.update, version: s.version, build: s.build };
}

function isoTime(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

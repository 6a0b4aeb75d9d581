// Prometheus text exposition (format 0.0.4) of a snapshot. Names carry the fulcrum_ prefix; counters end
// in _total; every family has HELP and TYPE; label values are escaped. Pure: snapshot in, text out.
import type { BoxSnapshot, VrrpStateName } from "../state/snapshot.ts";
import { realId } from "./ipvsadm.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
type Kind = "gauge" | "counter";

class Exposition {
  private readonly out: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, kind: Kind, help: string, samples: readonly (readonly [Labels, number])[]): void {
    if (this.seen.has(name)) throw new Error(`metric family ${name} emitted twice`);
    this.seen.add(name);
    this.out.push(
      `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`,
      `# TYPE ${name} ${kind}`,
    );
    for (const [labels, value] of samples)
      this.out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.out.join("\n")}\n`;
  }
}

const VRRP_STATES: readonly VrrpStateName[] = ["INIT", "BACKUP", "MASTER", "FAULT"];

export function renderMetrics(s: BoxSnapshot): string {
  const m = new Exposition();
  m.family("fulcrum_build_info", "gauge", "Version and build of the running fulcrum (always 1).", [
    [{ version: s.version, build: s.build }, 1],
  ]);
  m.family("fulcrum_boot_slot_info", "gauge", "The A/B slot the box booted from (always 1).", [
    [{ slot: s.update.bootSlot }, 1],
  ]);
  m.family("fulcrum_start_time_seconds", "gauge", "When the fulcrum process started, in Unix seconds.", [
    [{}, s.startedAtMs / 1000],
  ]);
  m.family("fulcrum_uptime_seconds", "gauge", "Seconds since the fulcrum process started.", [
    [{}, Math.max(0, (s.nowMs - s.startedAtMs) / 1000)],
  ]);
  m.family(
    "fulcrum_update_state",
    "gauge",
    "Updater state (1 for the current one).",
    ["idle", "downloading", "verifying", "writing", "pending-reboot", "failed"].map((state) => [
      { state },
      s.update.state === state ? 1 : 0,
    ]),
  );

  const vrrpLabels = (v: BoxSnapshot["vrrp"][number]): Labels => ({
    instance: v.name,
    interface: v.interface,
    vrid: String(v.vrid),
  });
  m.family(
    "fulcrum_vrrp_state",
    "gauge",
    "VRRP instance state (1 for the current state).",
    s.vrrp.flatMap((v) =>
      VRRP_STATES.map((state) => [{ ...vrrpLabels(v), state }, v.state === state ? 1 : 0] as const),
    ),
  );
  m.family(
    "fulcrum_vrrp_priority",
    "gauge",
    "Configured VRRP priority.",
    s.vrrp.map((v) => [vrrpLabels(v), v.priority]),
  );
  m.family(
    "fulcrum_vrrp_effective_priority",
    "gauge",
    "VRRP priority in effect after tracking and operator overrides.",
    s.vrrp.map((v) => [vrrpLabels(v), v.effectivePriority]),
  );
  m.family(
    "fulcrum_vrrp_transitions_total",
    "counter",
    "VRRP state transitions since start.",
    s.vrrp.map((v) => [vrrpLabels(v), v.transitions]),
  );
  m.family(
    "fulcrum_vrrp_vips",
    "gauge",
    "Number of virtual IP addresses of the instance.",
    s.vrrp.map((v) => [vrrpLabels(v), v.vips.length]),
  );

  const services = s.services.map((svc) => ({
    svc,
    labels: { service: svc.name, vip: svc.label.trim().replace(/\s+/, " ") },
  }));
  m.family(
    "fulcrum_ipvs_service_quorum_up",
    "gauge",
    "1 when the virtual service has its quorum of healthy real servers.",
    services.map(({ svc, labels }) => [labels, svc.quorumUp ? 1 : 0]),
  );
  m.family(
    "fulcrum_ipvs_service_real_servers",
    "gauge",
    "Real servers of the virtual service by status.",
    services.flatMap(({ svc, labels }) =>
      (["up", "down", "unknown", "draining"] as const).map(
        (status) =>
          [
            { ...labels, status },
            svc.realServers.filter((r) =>
              status === "draining" ? r.draining : !r.draining && r.health === status,
            ).length,
          ] as const,
      ),
    ),
  );
  const reals = services.flatMap(({ svc, labels }) =>
    // service + real identify a series; the VIP is on the service families, the method on _real_info.
    svc.realServers.map((r) => ({ r, labels: { service: labels.service, real: realId(r) } })),
  );
  const perService = (pick: (r: BoxSnapshot["services"][number]["realServers"][number]) => number) =>
    services.map(({ svc, labels }) => [labels, svc.realServers.reduce((t, r) => t + pick(r), 0)] as const);
  m.family(
    "fulcrum_ipvs_service_connections_total",
    "counter",
    "Connections scheduled by the service (sum over its real servers).",
    perService((r) => r.conns),
  );
  m.family(
    "fulcrum_ipvs_service_in_bytes_total",
    "counter",
    "Bytes in through the service (sum over its real servers).",
    perService((r) => r.inBytes),
  );
  m.family(
    "fulcrum_ipvs_service_out_bytes_total",
    "counter",
    "Bytes out through the service (sum over its real servers).",
    perService((r) => r.outBytes),
  );
  m.family(
    "fulcrum_ipvs_service_connections_per_second",
    "gauge",
    "Connection rate of the service (kernel estimator).",
    perService((r) => r.cps),
  );
  m.family(
    "fulcrum_ipvs_service_active_connections",
    "gauge",
    "Active connections of the service.",
    perService((r) => r.activeConns),
  );

  const perReal = (pick: (r: (typeof reals)[number]["r"]) => number) =>
    reals.map(({ r, labels }) => [labels, pick(r)] as const);
  m.family(
    "fulcrum_ipvs_real_weight",
    "gauge",
    "Weight of the real server in the kernel now.",
    perReal((r) => r.weight),
  );
  m.family(
    "fulcrum_ipvs_real_configured_weight",
    "gauge",
    "Weight of the real server in the config.",
    perReal((r) => r.configuredWeight),
  );
  m.family(
    "fulcrum_ipvs_real_up",
    "gauge",
    "1 when the real server's health check passes (0 down, -1 unknown).",
    perReal((r) => (r.health === "up" ? 1 : r.health === "down" ? 0 : -1)),
  );
  m.family(
    "fulcrum_ipvs_real_draining",
    "gauge",
    "1 while an operator has the real server drained.",
    perReal((r) => (r.draining ? 1 : 0)),
  );
  m.family(
    "fulcrum_ipvs_real_active_connections",
    "gauge",
    "Active connections (ipvsadm ActiveConn).",
    perReal((r) => r.activeConns),
  );
  m.family(
    "fulcrum_ipvs_real_inactive_connections",
    "gauge",
    "Inactive connections (ipvsadm InActConn).",
    perReal((r) => r.inactiveConns),
  );
  m.family(
    "fulcrum_ipvs_real_connections_total",
    "counter",
    "Connections scheduled to the real server.",
    perReal((r) => r.conns),
  );
  m.family(
    "fulcrum_ipvs_real_in_bytes_total",
    "counter",
    "Bytes from clients to the real server.",
    perReal((r) => r.inBytes),
  );
  m.family(
    "fulcrum_ipvs_real_out_bytes_total",
    "counter",
    "Bytes from the real server to clients.",
    perReal((r) => r.outBytes),
  );
  m.family(
    "fulcrum_ipvs_real_connections_per_second",
    "gauge",
    "Connection rate (ipvsadm CPS).",
    perReal((r) => r.cps),
  );
  m.family(
    "fulcrum_ipvs_real_in_packets_per_second",
    "gauge",
    "Inbound packet rate (ipvsadm InPPS).",
    perReal((r) => r.inPps),
  );
  m.family(
    "fulcrum_ipvs_real_out_packets_per_second",
    "gauge",
    "Outbound packet rate (ipvsadm OutPPS).",
    perReal((r) => r.outPps),
  );
  m.family(
    "fulcrum_ipvs_real_in_bytes_per_second",
    "gauge",
    "Inbound byte rate (ipvsadm InBPS).",
    perReal((r) => r.inBps),
  );
  m.family(
    "fulcrum_ipvs_real_out_bytes_per_second",
    "gauge",
    "Outbound byte rate (ipvsadm OutBPS).",
    perReal((r) => r.outBps),
  );

  const checked = reals.filter(({ r }) => r.checks.length > 0);
  const last = (r: (typeof reals)[number]["r"]) => r.checks[r.checks.length - 1]!;
  m.family(
    "fulcrum_check_last_success",
    "gauge",
    "1 when the newest health check of the real server passed.",
    checked.map(({ r, labels }) => [labels, last(r).ok ? 1 : 0]),
  );
  m.family(
    "fulcrum_check_last_latency_seconds",
    "gauge",
    "Latency of the newest health check.",
    checked.map(({ r, labels }) => [labels, last(r).latencyMs / 1000]),
  );
  m.family(
    "fulcrum_check_last_timestamp_seconds",
    "gauge",
    "When the newest health check finished, in Unix seconds.",
    checked.map(({ r, labels }) => [labels, last(r).atMs / 1000]),
  );
  const counted = reals.filter(({ r }) => r.checkTotals !== undefined);
  m.family(
    "fulcrum_check_results_total",
    "counter",
    "Health check results of the real server since start, by result.",
    counted.flatMap(({ r, labels }) => [
      [{ ...labels, result: "ok" }, r.checkTotals?.ok ?? 0] as const,
      [{ ...labels, result: "failed" }, r.checkTotals?.failed ?? 0] as const,
    ]),
  );
  m.family(
    "fulcrum_check_recent_failures",
    "gauge",
    "Failed checks among the recent ones kept for the console.",
    checked.map(({ r, labels }) => [labels, r.checks.filter((c) => !c.ok).length]),
  );
  m.family(
    "fulcrum_check_recent_latency_seconds_max",
    "gauge",
    "Highest latency among the recent checks kept for the console.",
    checked.map(({ r, labels }) => [labels, Math.max(...r.checks.map((c) => c.latencyMs)) / 1000]),
  );
  return m.text();
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

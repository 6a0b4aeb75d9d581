// The virtual-service table in the layout operators know from `ipvsadm -Ln` (and its --rate and --stats
// variants), plus the lookups that turn "SERVICE REAL" as typed by an operator into snapshot entries.
import type { BoxSnapshot, RealServerSnapshot, ServiceSnapshot } from "../state/snapshot.ts";
import { fit, fitRight } from "./text.ts";

export type TableView = "conns" | "rate" | "stats";

const FORWARD_NAMES: Record<RealServerSnapshot["method"], string> = {
  nat: "Masq",
  dr: "Route",
  tun: "Tunnel",
};

export function forwardName(method: RealServerSnapshot["method"]): string {
  return FORWARD_NAMES[method];
}

/** "10.0.0.2:80", "[2001:db8::2]:80": the real server's identity as ipvsadm prints it with -n. */
export function realId(real: Pick<RealServerSnapshot, "address" | "port">): string {
  return real.address.includes(":") ? `[${real.address}]:${real.port}` : `${real.address}:${real.port}`;
}

/** The two header lines of a table in the given view. */
export function tableHeader(view: TableView): [string, string] {
  switch (view) {
    case "conns":
      return [
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      ];
    case "rate":
      return [
        `${fit("Prot LocalAddress:Port", 33)}${cols(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"])}`,
        "  -> RemoteAddress:Port",
      ];
    case "stats":
      return [
        `${fit("Prot LocalAddress:Port", 33)}${cols(["Conns", "InBytes", "OutBytes"])}`,
        "  -> RemoteAddress:Port",
      ];
  }
}

/** The service line: "TCP  192.0.2.10:80 wlc persistent 300" (or the service's summed figures). */
export function serviceLine(service: ServiceSnapshot, view: TableView): string {
  if (view === "conns") {
    const persistent = service.persistenceTimeout > 0 ? ` persistent ${service.persistenceTimeout}` : "";
    return `${service.label} ${service.scheduler}${persistent}`;
  }
  const sum = (pick: (r: RealServerSnapshot) => number) =>
    service.realServers.reduce((total, r) => total + pick(r), 0);
  const figures =
    view === "rate"
      ? [
          sum((r) => r.cps),
          sum((r) => r.inPps),
          sum((r) => r.outPps),
          sum((r) => r.inBps),
          sum((r) => r.outBps),
        ]
      : [sum((r) => r.conns), sum((r) => r.inBytes), sum((r) => r.outBytes)];
  return `${fit(service.label, 33)}${cols(figures.map(String))}`;
}

/** The real-server line without the leading "  -> " (callers put their own marker there). */
export function realLineBody(real: RealServerSnapshot, view: TableView): string {
  switch (view) {
    case "conns":
      return (
        `${fit(realId(real), 28)} ${fit(forwardName(real.method), 7)} ${fit(String(real.weight), 6)} ` +
        `${fit(String(real.activeConns), 10)} ${fit(String(real.inactiveConns), 10)}`
      );
    case "rate":
      return `${fit(realId(real), 28)}${cols([real.cps, real.inPps, real.outPps, real.inBps, real.outBps].map(String))}`;
    case "stats":
      return `${fit(realId(real), 28)}${cols([real.conns, real.inBytes, real.outBytes].map(String))}`;
  }
}

/** One word for the real server's state: what an operator acts on. */
export function realStatus(real: RealServerSnapshot): string {
  if (real.draining) return "drain";
  if (real.health === "down") return "DOWN";
  if (real.health === "unknown") return "unknown";
  return "up";
}

/** The whole table as plain lines, like `ipvsadm -Ln` (with a status column appended in "conns" view). */
export function ipvsadmTable(
  services: readonly ServiceSnapshot[],
  view: TableView,
  withStatus: boolean,
): string[] {
  const [h1, h2] = tableHeader(view);
  const lines = [h1, withStatus && view === "conns" ? `${h2} Status` : h2];
  for (const service of services) {
    lines.push(serviceLine(service, view) + (withStatus && !service.quorumUp ? "  [quorum down]" : ""));
    for (const real of service.realServers) {
      const status = withStatus && view === "conns" ? ` ${realStatus(real)}` : "";
      lines.push(`  -> ${realLineBody(real, view)}${status}`.trimEnd());
    }
  }
  return lines.map((l) => l.trimEnd());
}

function cols(values: readonly string[]): string {
  return values.map((v) => ` ${fitRight(v, 8)}`).join("");
}

// ---------------------------------------------------------------------------------------------
// Lookups

export type LookupResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/** A service by its name, or by the address part of its label ("192.0.2.10:80", "tcp:192.0.2.10:80"). */
export function findService(snapshot: BoxSnapshot, query: string): LookupResult<ServiceSnapshot> {
  const byName = snapshot.services.find((s) => s.name === query);
  if (byName) return { ok: true, value: byName };
  const wanted = query.toLowerCase();
  const byLabel = snapshot.services.filter((s) => {
    const parts = s.label.trim().split(/\s+/);
    const proto = (parts[0] ?? "").toLowerCase();
    const address = (parts[1] ?? "").toLowerCase();
    return address === wanted || `${proto}:${address}` === wanted;
  });
  if (byLabel.length === 1 && byLabel[0]) return { ok: true, value: byLabel[0] };
  if (byLabel.length > 1)
    return { ok: false, error: `'${query}' matches ${byLabel.length} services; use the service name` };
  return {
    ok: false,
    error: `no service '${query}' (known: ${snapshot.services.map((s) => s.name).join(", ") || "none"})`,
  };
}

/** A real server of a service by "ADDR:PORT", "[V6]:PORT", or a bare address when it is unique. */
export function findReal(service: ServiceSnapshot, query: string): LookupResult<RealServerSnapshot> {
  const exact = service.realServers.find((r) => realId(r) === query);
  if (exact) return { ok: true, value: exact };
  const bare = query.replace(/^\[(.*)\]$/, "$1");
  const byAddress = service.realServers.filter((r) => r.address === bare);
  if (byAddress.length === 1 && byAddress[0]) return { ok: true, value: byAddress[0] };
  if (byAddress.length > 1)
    return { ok: false, error: `'${query}' matches ${byAddress.length} real servers; add the port` };
  return {
    ok: false,
    error: `no real server '${query}' in service '${service.name}' (known: ${service.realServers.map(realId).join(", ") || "none"})`,
  };
}

// What the box looks like right now, as one immutable value. The console (TUI, SSH CLI, management API,
// /metrics) renders only from snapshots and changes the box only through OperatorActions, so every front end
// shows the same thing and every change goes through one audited path.

export type VrrpStateName = "INIT" | "BACKUP" | "MASTER" | "FAULT";
export type HealthState = "up" | "down" | "unknown";

export interface VrrpInstanceSnapshot {
  readonly name: string;
  readonly interface: string;
  readonly vrid: number;
  readonly state: VrrpStateName;
  /** Configured priority and the effective one after tracking weights and operator overrides. */
  readonly priority: number;
  readonly effectivePriority: number;
  /** Primary address of the current master as last heard (ourselves when MASTER), if known. */
  readonly masterAddress: string | null;
  readonly vips: readonly string[];
  readonly transitions: number;
  readonly lastReason: string;
}

export interface CheckResultSnapshot {
  readonly atMs: number;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly reason: string;
}

export interface RealServerSnapshot {
  readonly address: string;
  readonly port: number;
  readonly method: "nat" | "dr" | "tun";
  /** Configured weight, and the weight in the kernel now (0 when inhibited or draining). */
  readonly configuredWeight: number;
  readonly weight: number;
  readonly health: HealthState;
  readonly draining: boolean;
  readonly activeConns: number;
  readonly inactiveConns: number;
  readonly cps: number;
  readonly inPps: number;
  readonly outPps: number;
  readonly inBps: number;
  readonly outBps: number;
  readonly conns: number;
  readonly inBytes: number;
  readonly outBytes: number;
  /** Newest last, bounded. */
  readonly checks: readonly CheckResultSnapshot[];
  /** Check results counted since start, when the health checker keeps totals (for /metrics counters). */
  readonly checkTotals?: { readonly ok: number; readonly failed: number };
}

export interface ServiceSnapshot {
  readonly name: string;
  /** ipvsadm's notation, e.g. "TCP  192.0.2.10:80" or "FWM  7". */
  readonly label: string;
  readonly scheduler: string;
  readonly persistenceTimeout: number;
  readonly quorumUp: boolean;
  readonly realServers: readonly RealServerSnapshot[];
}

export interface EventSnapshot {
  readonly atMs: number;
  readonly event: string;
  readonly reason: string;
}

export interface LogLineSnapshot {
  readonly atMs: number;
  /** pino's level name: "trace" .. "fatal". */
  readonly level: string;
  readonly msg: string;
}

export interface UpdateSnapshot {
  readonly bootSlot: string; // "a" | "b" | "dev"
  readonly state: "idle" | "downloading" | "verifying" | "writing" | "pending-reboot" | "failed";
  readonly progress: { readonly bytes: number; readonly total: number; readonly rateBps: number } | null;
  readonly lastResult: string;
  /** Polling of `[update] url`, when configured (docs/update.md, "Polling"). */
  readonly poll?: {
    readonly url: string;
    readonly intervalS: number;
    /** When the next check is due; null while waiting for the bless, checking, applying, or stopped. */
    readonly nextCheckAtMs: number | null;
    /** What the last check found (or why checks wait). */
    readonly last: string;
  };
}

export interface BoxSnapshot {
  readonly hostname: string;
  readonly version: string;
  readonly build: string;
  readonly startedAtMs: number;
  readonly nowMs: number;
  readonly vrrp: readonly VrrpInstanceSnapshot[];
  readonly services: readonly ServiceSnapshot[];
  /** Newest last, bounded. */
  readonly events: readonly EventSnapshot[];
  readonly update: UpdateSnapshot;
  /** The newest log lines, newest last, bounded (src/console/rings.ts keeps them); absent = not kept. */
  readonly log?: readonly LogLineSnapshot[];
}

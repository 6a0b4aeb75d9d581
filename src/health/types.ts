// Typed inputs and outputs of the health layer, independent of the config file and of sockets.
// Times are milliseconds. The config mapping (from-config.ts) fills these in from the operator's TOML.
import type { ForwardMethod } from "../ipvs/model.ts";

export type CheckType = "tcp" | "http" | "https" | "mysql" | "dns" | "exec";

/** Timing shared by every checker: the scheduler and the rise/fall lifecycle read only this part. */
export interface CheckTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** consecutive successes that bring a down server up */
  readonly rise: number;
  /** consecutive failures that take an up server down */
  readonly fall: number;
  /** up to this many ms of random delay added to each interval, so checks do not lock step */
  readonly jitterMs: number;
}

interface CheckCommon extends CheckTiming {
  /** local address to connect from (must exist on the box) */
  readonly source?: string;
  /** port to probe; the real server's port when absent */
  readonly port?: number;
}

export interface TcpCheckSpec extends CheckCommon {
  readonly type: "tcp";
}

/** Inclusive status range; a single code is {min: c, max: c}. */
export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

export interface HttpCheckSpec extends CheckCommon {
  readonly type: "http" | "https";
  readonly path: string;
  readonly expect: readonly StatusRange[];
  /** regular expression source the body must match */
  readonly bodyRegex?: string;
  /** lowercase hex MD5 of the body (keepalived's `digest`) */
  readonly bodyMd5?: string;
  /** Host header; the target address when absent */
  readonly host?: string;
  /** TLS server name; the Host header (when it is a name) when absent */
  readonly sni?: string;
  /** https: verify the certificate chain and name */
  readonly verify: boolean;
}

export interface MysqlCheckSpec extends CheckCommon {
  readonly type: "mysql";
  /**
   * "greeting": read the server greeting, log in as `user` with an empty password when a user is given
   * (so the server counts a clean connection, not an aborted one), then COM_QUIT.
   * "query": log in with user/password through the client library and run `query`.
   */
  readonly mode: "greeting" | "query";
  readonly user?: string;
  readonly password?: string;
  readonly query: string;
  readonly requireWritable: boolean;
  /** seconds; absent = replication lag not checked */
  readonly maxReplicationLagS?: number;
}

export type DnsRecordType = "A" | "AAAA" | "CNAME" | "MX" | "NS" | "PTR" | "SOA" | "SRV" | "TXT";
export type DnsRcode = "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED";

export interface DnsCheckSpec extends CheckCommon {
  readonly type: "dns";
  readonly name: string;
  readonly recordType: DnsRecordType;
  readonly rcode: DnsRcode;
  /** an answer that must be present, in text form ("10.0.1.53", "ns1.example.") */
  readonly answer?: string;
  readonly transport: "udp" | "tcp";
}

export interface ExecCheckSpec extends CheckCommon {
  readonly type: "exec";
  /** program and arguments; never run through a shell */
  readonly argv: readonly string[];
  /**
   * keepalived's MISC_CHECK `misc_dynamic`: exit 0 = up at the configured weight, 1 = down,
   * 2..255 = up with weight (code - 2).
   */
  readonly dynamicWeight: boolean;
}

export type CheckSpec = TcpCheckSpec | HttpCheckSpec | MysqlCheckSpec | DnsCheckSpec | ExecCheckSpec;

/** Where a check connects. */
export interface CheckTarget {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

export interface CheckResult {
  readonly ok: boolean;
  /** what happened, in words for the console: "HTTP 503", "connect refused", "timeout after 2000 ms" */
  readonly reason: string;
  readonly latencyMs: number;
  /** a weight the check asks for (exec with dynamic weight) */
  readonly weight?: number;
}

/** A checker is a small async adapter. It must settle soon after `signal` aborts, and never throw. */
export type Checker<S extends CheckSpec = CheckSpec> = (
  spec: S,
  target: CheckTarget,
  signal: AbortSignal,
) => Promise<CheckResult>;

// ---------------------------------------------------------------------------------------------
// Services as the health layer sees them

export interface RealServerSpec {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  /** configured weight */
  readonly weight: number;
  readonly method: ForwardMethod;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  /** undefined = not checked, always up */
  readonly check?: CheckSpec;
  /** state before the first result; keepalived starts servers up unless `alpha` is set */
  readonly startUp: boolean;
}

export interface SorryServerSpec {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  readonly method: ForwardMethod;
  /** weight it gets in the pool (1 unless configured) */
  readonly weight: number;
}

export interface ServiceHealthSpec {
  /** the service's name, stable across reloads */
  readonly name: string;
  readonly reals: readonly RealServerSpec[];
  /** sum of the weights of live servers the service needs */
  readonly quorum: number;
  readonly hysteresis: number;
  /** on failure keep the server with weight 0 instead of removing it */
  readonly inhibitOnFailure: boolean;
  readonly sorryServer?: SorryServerSpec;
}

/** Operator state of a real server; survives reloads. */
export type AdminState = "enabled" | "drain" | "disabled";

/** One member of a service's effective pool, ready to become an IPVS DestSpec. */
export interface EffectiveDest {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly method: ForwardMethod;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  /** why it is there with this weight */
  readonly role: "up" | "inhibited" | "drain" | "sorry";
}

export interface HistoryEntry {
  readonly atMs: number;
  readonly ok: boolean;
  readonly reason: string;
  readonly latencyMs: number;
}

/** Health events; each is one structured log line (`event` + `reason`) and a console/VRRP input. */
export type HealthEvent =
  | {
      readonly event: "health.real.up" | "health.real.down";
      readonly reason: string;
      readonly service: string;
      readonly real: string;
      readonly check: CheckType | "none";
      readonly count: number;
      readonly threshold: number;
      readonly latencyMs: number;
    }
  | {
      readonly event: "health.real.admin";
      readonly reason: string;
      readonly service: string;
      readonly real: string;
      readonly admin: AdminState;
      readonly weightOverride: number | null;
    }
  | {
      readonly event: "health.real.weight";
      readonly reason: string;
      readonly service: string;
      readonly real: string;
      readonly weight: number;
    }
  | {
      readonly event: "health.quorum.up" | "health.quorum.down";
      readonly reason: string;
      readonly service: string;
      readonly liveWeight: number;
      readonly quorum: number;
      readonly hysteresis: number;
    }
  | {
      readonly event: "health.sorry.on" | "health.sorry.off";
      readonly reason: string;
      readonly service: string;
      readonly sorry: string;
    }
  | {
      readonly event: "health.real.added" | "health.real.removed";
      readonly reason: string;
      readonly service: string;
      readonly real: string;
    };

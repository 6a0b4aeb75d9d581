// From the operator's config (src/config/types.ts) to the health layer's typed specs.
// Seconds become milliseconds; a real server without a check is always up.
import type { CheckConfig, Config, IpFamily, ServiceConfig } from "../config/types.ts";
import type { CheckSpec, ServiceHealthSpec } from "./types.ts";

const ms = (seconds: number) => Math.max(1, Math.round(seconds * 1000));
const family = (f: IpFamily): 4 | 6 => (f === "inet6" ? 6 : 4);
const DEFAULT_MYSQL_QUERY = "SELECT 1";

export function healthSpecsFromConfig(config: Pick<Config, "services">): ServiceHealthSpec[] {
  return config.services.map(serviceSpec);
}

export function serviceSpec(s: ServiceConfig): ServiceHealthSpec {
  return {
    name: s.name,
    quorum: s.quorum,
    hysteresis: s.hysteresis,
    inhibitOnFailure: s.inhibit_on_failure,
    ...(s.sorry_server === undefined
      ? {}
      : {
          sorryServer: {
            family: family(s.family),
            address: s.sorry_server.address,
            port: s.sorry_server.port,
            method: s.sorry_server.method,
            weight: 1,
          },
        }),
    reals: s.real.map((r) => ({
      family: family(r.family),
      address: r.address,
      port: r.port,
      weight: r.weight,
      method: r.method,
      upperThreshold: r.u_threshold,
      lowerThreshold: r.l_threshold,
      startUp: true,
      ...(r.check === undefined ? {} : { check: checkSpec(r.check) }),
    })),
  };
}

export function checkSpec(c: CheckConfig): CheckSpec {
  const common = {
    intervalMs: ms(c.interval),
    timeoutMs: ms(c.timeout),
    rise: c.rise,
    fall: c.fall,
    jitterMs: Math.round(c.jitter * 1000),
    port: c.port,
    ...(c.source === undefined ? {} : { source: c.source }),
  };
  switch (c.type) {
    case "tcp":
      return { type: "tcp", ...common };
    case "http":
    case "https":
      return {
        type: c.type,
        ...common,
        path: c.path,
        expect: c.expect,
        verify: c.verify,
        ...(c.body === undefined ? {} : { bodyRegex: c.body }),
        ...(c.digest === undefined ? {} : { bodyMd5: c.digest }),
        ...(c.host === undefined ? {} : { host: c.host }),
        ...(c.sni === undefined ? {} : { sni: c.sni }),
      };
    case "mysql": {
      // No password and nothing asked of the server beyond being there: the protocol-level check,
      // which logs in as the (password-less, privilege-less) check user and quits cleanly.
      const greeting =
        c.password === "" &&
        !c.require_writable &&
        c.max_replication_lag === undefined &&
        c.query === DEFAULT_MYSQL_QUERY;
      return {
        type: "mysql",
        ...common,
        mode: greeting ? "greeting" : "query",
        user: c.user,
        password: c.password,
        query: c.query,
        requireWritable: c.require_writable,
        ...(c.max_replication_lag === undefined ? {} : { maxReplicationLagS: c.max_replication_lag }),
      };
    }
    case "dns":
      return {
        type: "dns",
        ...common,
        name: c.name,
        recordType: c.record_type,
        rcode: c.rcode,
        transport: c.transport,
        ...(c.answer === undefined ? {} : { answer: c.answer }),
      };
    case "exec":
      return { type: "exec", ...common, argv: c.argv, dynamicWeight: false };
  }
}

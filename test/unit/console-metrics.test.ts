import { describe, expect, test } from "bun:test";
// @ts-expect-error the package ships no type declarations
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { renderMetrics } from "../../src/console/metrics.ts";
import { FakeBox } from "./console-fixtures.ts";

interface Family {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parse = parsePrometheusTextFormat as (text: string) => Family[];

function sample(families: Family[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no family ${name}`);
  const m = family.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  if (!m) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return Number(m.value);
}

describe("/metrics exposition", () => {
  const box = new FakeBox();
  box.vrrp[1]!.name = 'VI_"odd"\\name';
  const text = renderMetrics(box.snapshot());
  const families = parse(text);

  test("parses with a Prometheus text parser; every family has HELP and TYPE and the fulcrum_ prefix", () => {
    expect(families.length).toBeGreaterThan(20);
    for (const f of families) {
      expect(f.name).toMatch(/^fulcrum_[a-z0-9_]+$/);
      expect(f.help.length).toBeGreaterThan(5);
      expect(["gauge", "counter"]).toContain(f.type.toLowerCase());
      if (f.type.toLowerCase() === "counter") expect(f.name).toEndWith("_total");
    }
  });

  test("promtool check metrics finds no problems", () => {
    const p = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text) });
    expect(p.stderr.toString() + p.stdout.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });

  test("carries version, boot slot, VRRP state and transitions", () => {
    expect(sample(families, "fulcrum_build_info", { version: "0.1.0", build: "abc1234" })).toBe(1);
    expect(sample(families, "fulcrum_boot_slot_info", { slot: "a" })).toBe(1);
    expect(sample(families, "fulcrum_vrrp_state", { instance: "VI_web", state: "MASTER" })).toBe(1);
    expect(sample(families, "fulcrum_vrrp_state", { instance: "VI_web", state: "BACKUP" })).toBe(0);
    expect(sample(families, "fulcrum_vrrp_state", { instance: 'VI_"odd"\\name', state: "BACKUP" })).toBe(1);
    expect(sample(families, "fulcrum_vrrp_transitions_total", { instance: "VI_web" })).toBe(1);
    expect(sample(families, "fulcrum_vrrp_effective_priority", { instance: "VI_web" })).toBe(150);
  });

  test("carries IPVS counters and rates per real server and per service", () => {
    const real = { service: "web", real: "10.0.0.2:80" };
    expect(sample(families, "fulcrum_ipvs_real_active_connections", real)).toBe(3);
    expect(sample(families, "fulcrum_ipvs_real_inactive_connections", real)).toBe(12);
    expect(sample(families, "fulcrum_ipvs_real_connections_total", real)).toBe(1234);
    expect(sample(families, "fulcrum_ipvs_real_in_bytes_per_second", real)).toBe(5200);
    expect(sample(families, "fulcrum_ipvs_real_weight", { service: "web", real: "10.0.0.4:80" })).toBe(0);
    expect(sample(families, "fulcrum_ipvs_real_up", { service: "web", real: "10.0.0.4:80" })).toBe(0);
    expect(sample(families, "fulcrum_ipvs_real_weight", { service: "dns", real: "[2001:db8::1:2]:53" })).toBe(
      1,
    );
    expect(sample(families, "fulcrum_ipvs_service_connections_total", { service: "web" })).toBe(3 * 1234);
    expect(sample(families, "fulcrum_ipvs_service_real_servers", { service: "web", status: "down" })).toBe(1);
    expect(sample(families, "fulcrum_ipvs_service_quorum_up", { service: "web" })).toBe(1);
  });

  test("carries check results and latency", () => {
    expect(sample(families, "fulcrum_check_last_success", { real: "10.0.0.4:80" })).toBe(0);
    expect(sample(families, "fulcrum_check_last_latency_seconds", { real: "10.0.0.4:80" })).toBe(3);
    expect(sample(families, "fulcrum_check_last_latency_seconds", { real: "10.0.0.2:80" })).toBe(0.00225);
    expect(sample(families, "fulcrum_check_results_total", { real: "10.0.0.2:80", result: "failed" })).toBe(
      2,
    );
  });

  test("an empty box still renders valid metrics", () => {
    const empty = new FakeBox();
    empty.vrrp.length = 0;
    empty.services.length = 0;
    const p = Bun.spawnSync(["promtool", "check", "metrics"], {
      stdin: new TextEncoder().encode(renderMetrics(empty.snapshot())),
    });
    expect(p.exitCode).toBe(0);
  });
});

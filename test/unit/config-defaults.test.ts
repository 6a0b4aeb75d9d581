// Defaults live in code in one module (src/config/defaults.ts) and in prose in docs/config.md.
// These tests keep the two in step, keep every accepted key documented, and check the loader
// really applies the defaults it documents.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ARP_ROLE_SYSCTLS, DEFAULTS } from "../../src/config/defaults.ts";
import { formatConfigError, parseConfig, TOP_KEYS } from "../../src/config/load.ts";
import { ALL_KEYS } from "../../src/config/sections/checks.ts";
import { INTERFACE_KEYS, ROUTE_KEYS } from "../../src/config/sections/interfaces.ts";
import { IPVS_KEYS, SYNC_DAEMON_KEYS } from "../../src/config/sections/ipvs.ts";
import { REAL_KEYS, SERVICE_KEYS } from "../../src/config/sections/services.ts";
import {
  API_KEYS,
  LOG_KEYS,
  SSH_KEYS,
  SYSCTL_KEYS,
  SYSTEM_KEYS,
  USER_KEYS,
} from "../../src/config/sections/system.ts";
import { UPDATE_KEYS } from "../../src/config/sections/update.ts";
import { INSTANCE_KEYS, SYNC_GROUP_KEYS } from "../../src/config/sections/vrrp.ts";

// Table cells are compared with the padding that formatters add around "|" removed.
const DOC = readFileSync(join(import.meta.dir, "../../docs/config.md"), "utf8")
  .split("\n")
  .map((l) => (l.startsWith("|") ? l.replace(/ *\| */g, "|") : l))
  .join("\n");

/** docs/config.md cut at every ## / ### heading: heading line -> its text. */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  let heading = "";
  for (const line of DOC.split("\n")) {
    if (/^#{2,3} /.test(line)) heading = line;
    out.set(heading, `${out.get(heading) ?? ""}${line}\n`);
  }
  return out;
}

const D = DEFAULTS;
const GLANCE: Record<string, unknown> = {
  "system.hostname": D.system.hostname,
  "system.console": D.system.console,
  "system.console_baud": D.system.console_baud,
  "system.ssh.enabled": D.system.ssh.enabled,
  "system.ssh.listen": D.system.ssh.listen,
  "system.ssh.port": D.system.ssh.port,
  "system.api.listen": D.system.api.listen,
  "system.api.port": D.system.api.port,
  "system.log.level": D.system.log.level,
  ...Object.fromEntries(Object.entries(D.system.sysctl).map(([k, v]) => [`system.sysctl.${k}`, v])),
  "interfaces.*.kind": D.interface.kind,
  "interfaces.*.up": D.interface.up,
  "interfaces.*.macvlan_mode": D.interface.macvlan_mode,
  ...Object.fromEntries(
    Object.entries(D.vrrp)
      .filter(([k]) => k !== "track_interface_weight")
      .map(([k, v]) => [`vrrp.instances.*.${k}`, v]),
  ),
  "vrrp.instances.*.track_interface[].weight": D.vrrp.track_interface_weight,
  ...Object.fromEntries(
    Object.entries(D.service)
      .filter(([k]) => k !== "flags")
      .map(([k, v]) => [`services.*.${k}`, v]),
  ),
  ...Object.fromEntries(Object.entries(D.real).map(([k, v]) => [`services.*.real[].${k}`, v])),
  "check.timeout": D.check.timeout,
  "check.rise": D.check.rise,
  "check.fall": D.check.fall,
  "check.jitter": D.check.jitter,
  ...Object.fromEntries(
    [D.check.http, D.check.mysql, D.check.dns]
      .flatMap((o) => Object.entries(o))
      .map(([k, v]) => [`check.${k}`, v]),
  ),
  ...Object.fromEntries(Object.entries(D.update).map(([k, v]) => [`update.${k}`, v])),
};

describe("docs/config.md and src/config/defaults.ts agree", () => {
  test("'Defaults at a glance' lists exactly the defaults in code, with the same values", () => {
    const glance = sections().get("## Defaults at a glance") ?? "";
    const rows = [...glance.matchAll(/^\|`([^`]+)`\|`([^`]*)`\|$/gm)].map((m) => [m[1], m[2]]);
    expect(rows.length).toBeGreaterThan(40);
    const documented = Object.fromEntries(rows);
    const inCode = Object.fromEntries(Object.entries(GLANCE).map(([k, v]) => [k, JSON.stringify(v)]));
    expect(documented).toEqual(inCode);
  });

  test("every key the loader accepts is documented in its section", () => {
    const s = sections();
    const expectations: Array<[string, readonly string[]]> = [
      ["## Top level", TOP_KEYS],
      ["## [system]", SYSTEM_KEYS],
      ["### [system.ssh]", SSH_KEYS],
      ["### [[system.ssh.users]]", USER_KEYS],
      ["### [system.api]", API_KEYS],
      ["### [system.log]", LOG_KEYS],
      ["### [system.sysctl]", SYSCTL_KEYS],
      ["## [interfaces.&lt;ifname&gt;]", INTERFACE_KEYS],
      ["### routes", ROUTE_KEYS],
      ["## [vrrp.instances.&lt;NAME&gt;]", INSTANCE_KEYS],
      ["## [vrrp.sync_groups.&lt;NAME&gt;]", SYNC_GROUP_KEYS],
      ["## [services.&lt;NAME&gt;]", SERVICE_KEYS],
      ["### [[services.&lt;NAME&gt;.real]]", REAL_KEYS],
      ["## Health checks (`check = { ... }`)", ALL_KEYS],
      ["## [ipvs]", IPVS_KEYS],
      ["### [ipvs.sync_daemon]", SYNC_DAEMON_KEYS],
      ["## [update]", UPDATE_KEYS],
    ];
    const missing: string[] = [];
    for (const [heading, keys] of expectations) {
      const text = s.get(heading);
      if (text === undefined) {
        missing.push(`heading ${heading}`);
        continue;
      }
      const rowLines = text.split("\n").filter((l) => l.startsWith("|"));
      for (const k of keys)
        if (!rowLines.some((l) => l.includes(`\`${k}\``))) missing.push(`${heading}: ${k}`);
    }
    expect(missing).toEqual([]);
  });

  test("arp_role presets in the docs match the code", () => {
    const table = sections().get("### arp_role presets") ?? "";
    for (const [role, v] of Object.entries(ARP_ROLE_SYSCTLS)) {
      const row = `|\`${role}\`|${v.arp_ignore}|${v.arp_announce}|${v.arp_filter}|${v.rp_filter}|${v.send_redirects}|`;
      expect(table).toContain(row);
    }
  });
});

describe("the loader applies the documented defaults", () => {
  const r = parseConfig(
    [
      "[interfaces.eth0]",
      'addresses = ["10.0.1.2/24"]',
      "[interfaces.mv0]",
      'kind = "macvlan"',
      'link = "eth0"',
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 9",
      'virtual_ipaddress = ["10.0.1.100"]',
      'track_interface = ["mv0"]',
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'check = { type = "http" }',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
      "[update]",
    ].join("\n"),
    "d.toml",
  );
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
  const c = r.config;

  test("system", () => {
    expect(c.system.ssh).toEqual({ enabled: true, listen: "0.0.0.0", port: 22, users: [] });
    expect(c.system.api).toEqual({ enabled: false, listen: "127.0.0.1", port: 8080 });
    expect(c.system.log.level).toBe("info");
    expect(c.system.sysctl).toEqual({ ...D.system.sysctl });
  });

  test("interfaces", () => {
    expect(c.interfaces[0]).toMatchObject({ kind: "ethernet", up: true, routes: [] });
    expect(c.interfaces[0]?.sysctl).toBeUndefined();
    expect(c.interfaces[1]).toMatchObject({ kind: "macvlan", macvlan_mode: "bridge", link: "eth0" });
  });

  test("vrrp", () => {
    expect(c.vrrp.instances[0]).toMatchObject({
      priority: 100,
      advert_int: 1,
      version: 3,
      family: "inet",
      state: "BACKUP",
      nopreempt: false,
      preempt_delay: 0,
      accept: true,
      checksum: "rfc5798",
      garp_master_repeat: 5,
      garp_interval: 0,
      garp_master_refresh: 0,
      garp_master_delay: 5,
      use_vmac: false,
      unicast_peer: [],
      track_interface: [{ name: "mv0", weight: 0 }],
      virtual_ipaddress: [{ cidr: "10.0.1.100/32", address: "10.0.1.100", dev: "eth0" }],
    });
  });

  test("services, real servers and checks", () => {
    const s = c.services[0];
    expect(s).toMatchObject({
      protocol: "tcp",
      scheduler: "wlc",
      method: "nat",
      tun_type: "ipip",
      quorum: 1,
      hysteresis: 0,
      inhibit_on_failure: false,
      delay_loop: 6,
      family: "inet",
    });
    expect(s?.persistence_timeout).toBeUndefined();
    expect(s?.real[0]).toMatchObject({ port: 80, weight: 1, method: "nat", u_threshold: 0, l_threshold: 0 });
    expect(s?.real[0]?.check).toEqual({
      type: "http",
      interval: 6,
      timeout: 3,
      rise: 2,
      fall: 3,
      jitter: 0,
      port: 80,
      path: "/",
      expect: [{ min: 200, max: 299 }],
      verify: true,
    });
  });

  test("update", () => {
    expect(c.update).toEqual({
      trusted_keys: [],
      check_interval: 0,
      tries: 3,
      bless_after: 60,
      reboot: "manual",
    });
  });
});

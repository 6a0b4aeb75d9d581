// The config loader end to end on text: every example loads, and each broken config reports
// exactly the expected FILE:LINE:COL: message lines (all of them, sorted).
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { formatConfigError, loadConfigFile, parseConfig } from "../../src/config/load.ts";

const EXAMPLES = join(import.meta.dir, "../../examples");

/** Lines of a TOML text; line numbers in the expectations count from 1 here. */
const toml = (...lines: string[]): string => `${lines.join("\n")}\n`;

function problems(text: string): string[] {
  const r = parseConfig(text, "t.toml");
  if (r.ok) return [];
  return r.errors.map((e) => formatConfigError(e).replace(/^t\.toml:/, ""));
}

// A box with one interface holding a VIP, used by the service cases (lines 1-2).
const IF0 = ["[interfaces.eth0]", 'addresses = ["10.0.1.2/24", "10.0.1.100/24"]'];

describe("examples", () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".toml"));
  test("the examples directory holds the required examples", () => {
    for (const f of [
      "dr-web-a.toml",
      "dr-web-b.toml",
      "nat.toml",
      "tun.toml",
      "mysql-ha-a.toml",
      "mysql-ha-b.toml",
    ]) {
      expect(files).toContain(f);
    }
  });
  for (const f of files) {
    test(`${f} loads`, async () => {
      const r = await loadConfigFile(join(EXAMPLES, f));
      if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
      expect(r.config.services.length).toBeGreaterThan(0);
    });
  }

  test("dr-web-a: values, normalisation and defaults", async () => {
    const r = await loadConfigFile(join(EXAMPLES, "dr-web-a.toml"));
    if (!r.ok) throw new Error("dr-web-a.toml did not load");
    const c = r.config;
    expect(c.system.hostname).toBe("lb-web-a");
    expect(c.system.ssh.users.map((u) => [u.name, u.role])).toEqual([
      ["alice", "admin"],
      ["bob", "viewer"],
    ]);
    const eth0 = c.interfaces.find((i) => i.name === "eth0");
    expect(eth0?.kind).toBe("ethernet");
    expect(eth0?.up).toBe(true);
    expect(eth0?.routes).toEqual([{ to: "0.0.0.0/0", via: "10.0.1.1" }]);
    expect(eth0?.sysctl).toEqual({
      arp_ignore: 1,
      arp_announce: 2,
      arp_filter: false,
      rp_filter: 2,
      send_redirects: false,
    });
    expect(eth0?.pos).toEqual({ file: r.path, line: 28, col: 1 });
    const vi = c.vrrp.instances[0];
    expect(vi?.virtual_ipaddress).toEqual([{ cidr: "10.0.1.100/24", address: "10.0.1.100", dev: "eth0" }]);
    expect(vi?.track_interface).toEqual([
      { name: "eth0", weight: 0 },
      { name: "eth1", weight: -20 },
    ]);
    expect(vi?.version).toBe(3);
    expect(vi?.checksum).toBe("rfc5798");
    const web = c.services.find((s) => s.name === "web-http");
    expect(web?.real.map((x) => [x.address, x.port, x.weight, x.method])).toEqual([
      ["10.0.1.11", 80, 100, "dr"],
      ["10.0.1.12", 80, 100, "dr"],
    ]);
    const check = web?.real[0]?.check;
    expect(check?.type).toBe("http");
    expect(check?.port).toBe(80);
    expect(check?.interval).toBe(5);
    expect(c.update.trusted_keys[0]?.length).toBe(32);
    expect(c.update.reboot_window).toBe("02:00-04:00");
  });

  test("a real server's own check replaces the service's; check = false turns it off", () => {
    const r = parseConfig(
      toml(
        ...IF0,
        "[services.db]",
        'vip = "10.0.1.100"',
        "port = 3306",
        'check = { type = "tcp", interval = 2 }',
        "[[services.db.real]]",
        'address = "10.0.1.21"',
        'check = { type = "mysql", user = "chk", port = 3307 }',
        "[[services.db.real]]",
        'address = "10.0.1.22"',
        "[[services.db.real]]",
        'address = "10.0.1.23"',
        "check = false",
      ),
      "t.toml",
    );
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
    const [a, b, c] = r.config.services[0]?.real ?? [];
    expect(a?.check).toMatchObject({
      type: "mysql",
      user: "chk",
      port: 3307,
      query: "SELECT 1",
      interval: 6,
    });
    expect(b?.check).toMatchObject({ type: "tcp", port: 3306, interval: 2, timeout: 2, rise: 2, fall: 3 });
    expect(c?.check).toBeUndefined();
  });

  test("an empty file is a valid box with every default", () => {
    const r = parseConfig("", "empty.toml");
    if (!r.ok) throw new Error("empty config did not load");
    expect(r.config.system).toMatchObject({ hostname: "fulcrum", console: "ttyS0", console_baud: 115200 });
    expect(r.config.system.sysctl.ip_forward).toBe(true);
    expect(r.config.update).toEqual({
      trusted_keys: [],
      check_interval: 0,
      tries: 3,
      bless_after: 60,
      reboot: "manual",
    });
  });
});

// Each case: a broken config and the exact LINE:COL: message lines it must produce.
const BROKEN: Array<[string, string, string[]]> = [
  // ---- TOML syntax (stops at the first error) ----
  ["syntax: missing value", toml("[system]", "hostname = "), ["2:12: TOML syntax error: invalid value"]],
  [
    "syntax: duplicate key",
    toml("[system]", 'hostname = "a"', 'hostname = "b"'),
    ["3:1: TOML syntax error: trying to redefine an already defined table or value"],
  ],
  [
    "syntax: unclosed array",
    toml("[interfaces.eth0]", 'addresses = ["10.0.0.1/24",', "mtu = 1500"),
    ["3:1: TOML syntax error: invalid value"],
  ],
  // ---- unknown keys ----
  [
    "unknown top-level table",
    toml("[sevices.web]", 'vip = "10.0.0.1"'),
    [
      "1:2: sevices: unknown key 'sevices' (did you mean 'services'?); allowed keys here: system, interfaces, vrrp, services, ipvs, update",
    ],
  ],
  [
    "unknown key in a real server",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
      "wieght = 5",
    ),
    [
      "8:1: services.web.real[0].wieght: unknown key 'wieght' (did you mean 'weight'?); allowed keys here: address, port, weight, method, u_threshold, l_threshold, check",
    ],
  ],
  [
    "unknown key in an inline check",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'check = { type = "tcp", intreval = 5 }',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "6:25: services.web.check.intreval: unknown key 'intreval' (did you mean 'interval'?); allowed keys here: type, interval, timeout, rise, fall, jitter, source, port",
    ],
  ],
  // ---- system ----
  [
    "hostname not RFC 1123",
    toml("[system]", 'hostname = "-lb-a"'),
    [
      "2:12: system.hostname: invalid hostname '-lb-a'; allowed: RFC 1123 labels of letters, digits and '-' (1..63 each, not starting or ending with '-'), 253 characters in all",
    ],
  ],
  [
    "ssh port out of range",
    toml("[system.ssh]", "port = 0"),
    ["2:8: system.ssh.port: 0 is out of range; allowed: 1..65535"],
  ],
  [
    "ssh port as a string",
    toml("[system.ssh]", 'port = "22"'),
    ['2:8: system.ssh.port: expected an integer 1..65535, got string "22"'],
  ],
  [
    "unknown user role",
    toml(
      "[[system.ssh.users]]",
      'name = "carol"',
      'role = "root"',
      'authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICZ5YemySbTzaO4wg+p+8yPvEfe9QBDj1GDzkqJ95CZJ"]',
    ),
    ["3:8: system.ssh.users[0].role: unknown role 'root'; allowed: admin, viewer"],
  ],
  [
    "malformed ssh key",
    toml(
      "[[system.ssh.users]]",
      'name = "carol"',
      'authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBad"]',
    ),
    [
      `3:20: system.ssh.users[0].authorized_keys[0]: ssh-ed25519 key data has 21 bytes, expected 51; expected an OpenSSH public key like "ssh-ed25519 AAAAC3Nza... user@host"`,
    ],
  ],
  [
    "user without keys",
    toml("[[system.ssh.users]]", 'name = "carol"'),
    ["1:1: system.ssh.users[0]: missing required key 'authorized_keys' (a list of OpenSSH public keys)"],
  ],
  [
    "API on a public address without a token",
    toml("[system.api]", 'listen = "0.0.0.0"'),
    [
      "2:10: system.api.listen: the API listens on non-loopback 0.0.0.0 without a token; set system.api.token (at least 16 characters)",
    ],
  ],
  [
    "unknown log level",
    toml("[system.log]", 'level = "verbose"'),
    ["2:9: system.log.level: unknown log level 'verbose'; allowed: trace, debug, info, warn, error, fatal"],
  ],
  // ---- interfaces ----
  [
    "interface name too long",
    toml("[interfaces.eth0-uplink-primary]", 'addresses = ["10.0.0.1/24"]'),
    [
      "1:13: interfaces.eth0-uplink-primary: interface name 'eth0-uplink-primary' is 19 bytes; allowed: at most 15 (kernel IFNAMSIZ)",
    ],
  ],
  [
    "bad CIDR",
    toml("[interfaces.eth0]", 'addresses = ["10.0.1.300/24"]'),
    [
      "2:14: interfaces.eth0.addresses[0]: invalid CIDR '10.0.1.300/24'; expected address/prefix like 10.0.0.1/24 (prefix 0..32) or 2001:db8::1/64 (0..128)",
    ],
  ],
  [
    "address without a prefix",
    toml("[interfaces.eth0]", 'addresses = ["10.0.1.2"]'),
    ["2:14: interfaces.eth0.addresses[0]: '10.0.1.2' has no prefix length; expected a CIDR like 10.0.1.2/24"],
  ],
  [
    "vlan without link and id",
    toml("[interfaces.vlan10]", 'kind = "vlan"'),
    [
      "1:1: interfaces.vlan10: missing required key 'link' (the parent interface)",
      "1:1: interfaces.vlan10: missing required key 'vlan_id' (1..4094)",
    ],
  ],
  [
    "vlan id out of range and parent undefined",
    toml("[interfaces.eth0]", "[interfaces.vlan10]", 'kind = "vlan"', 'link = "eht0"', "vlan_id = 4095"),
    [
      "4:8: interfaces.vlan10.link: parent interface 'eht0' is not defined in [interfaces] (did you mean 'eth0'?); defined: eth0, vlan10",
      "5:11: interfaces.vlan10.vlan_id: 4095 is out of range; allowed: 1..4094",
    ],
  ],
  [
    "vlan_id on an ethernet interface",
    toml("[interfaces.eth0]", "vlan_id = 10"),
    ['2:1: interfaces.eth0.vlan_id: vlan_id applies only to kind = "vlan" (this interface is ethernet)'],
  ],
  [
    "mtu too small",
    toml("[interfaces.eth0]", "mtu = 40"),
    ["2:7: interfaces.eth0.mtu: 40 is out of range; allowed: 68..65535"],
  ],
  [
    "route destination with host bits",
    toml(
      "[interfaces.eth0]",
      'addresses = ["10.0.0.2/24"]',
      'routes = [{ to = "10.9.1.5/16", via = "10.0.0.1" }]',
    ),
    [
      "3:18: interfaces.eth0.routes[0].to: route destination 10.9.1.5/16 has host bits set; did you mean 10.9.0.0/16?",
    ],
  ],
  [
    "route gateway not on a connected subnet",
    toml(
      "[interfaces.eth0]",
      'addresses = ["10.0.0.2/24"]',
      'routes = [{ to = "default", via = "10.1.0.1" }]',
    ),
    [
      "3:35: interfaces.eth0.routes[0].via: gateway 10.1.0.1 is not on a connected subnet of this interface; connected: 10.0.0.0/24",
    ],
  ],
  [
    "reserved arp_ignore and unknown arp_role",
    toml("[interfaces.eth0]", 'arp_role = "directer"', "arp_ignore = 5"),
    [
      "2:12: interfaces.eth0.arp_role: unknown arp_role 'directer'; allowed: director, realserver, default (did you mean 'director'?)",
      "3:14: interfaces.eth0.arp_ignore: arp_ignore 5 is reserved; allowed: 0, 1, 2, 3, 8",
    ],
  ],
  [
    "the same address on two interfaces",
    toml(
      "[interfaces.eth0]",
      'addresses = ["10.0.0.2/24"]',
      "[interfaces.eth1]",
      'addresses = ["10.0.0.2/16"]',
    ),
    ["4:14: interfaces.eth1.addresses[0]: address 10.0.0.2 is already assigned to interface 'eth0'"],
  ],
  // ---- VRRP ----
  [
    "instance on an undefined interface, vrid out of range",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth1"',
      "virtual_router_id = 0",
      'virtual_ipaddress = ["10.0.1.50/24"]',
    ),
    [
      "4:13: vrrp.instances.VI_1.interface: interface 'eth1' is not defined in [interfaces] (did you mean 'eth0'?); defined: eth0",
      "5:21: vrrp.instances.VI_1.virtual_router_id: 0 is out of range; allowed: 1..255",
    ],
  ],
  [
    "instance missing its addresses",
    toml(...IF0, "[vrrp.instances.VI_1]", 'interface = "eth0"', "virtual_router_id = 1"),
    ["3:1: vrrp.instances.VI_1: missing required key 'virtual_ipaddress' (e.g. [\"10.0.0.100/24\"])"],
  ],
  [
    "priority 255 without owning the address",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      "priority = 255",
      'virtual_ipaddress = ["10.0.1.50/24"]',
    ),
    [
      "6:12: vrrp.instances.VI_1.priority: priority 255 is for the address owner, but 10.0.1.50 is not an address of any interface here; allowed: 1..254",
    ],
  ],
  [
    "advert_int below a centisecond",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      "advert_int = 0.005",
      'virtual_ipaddress = ["10.0.1.50"]',
    ),
    [
      "6:14: vrrp.instances.VI_1.advert_int: advert_int float 0.005 is out of range; allowed for VRRPv3: 0.01..40.95 seconds",
    ],
  ],
  [
    "fractional advert_int with VRRPv2",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      "version = 2",
      "advert_int = 1.5",
      'virtual_ipaddress = ["10.0.1.50"]',
    ),
    [
      "7:14: vrrp.instances.VI_1.advert_int: advert_int float 1.5 is not allowed for VRRPv2; allowed: whole seconds 1..255",
    ],
  ],
  [
    "one instance with two address families",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'virtual_ipaddress = ["10.0.1.50", "2001:db8::50"]',
    ),
    [
      "6:35: vrrp.instances.VI_1.virtual_ipaddress[1]: 2001:db8::50 is IPv6 but 10.0.1.50 is IPv4; one VRRP instance carries one address family (RFC 5798), use two instances",
    ],
  ],
  [
    "duplicate virtual_router_id on one interface",
    toml(
      ...IF0,
      "[vrrp.instances.A]",
      'interface = "eth0"',
      "virtual_router_id = 7",
      'virtual_ipaddress = ["10.0.1.50"]',
      "[vrrp.instances.B]",
      'interface = "eth0"',
      "virtual_router_id = 7",
      'virtual_ipaddress = ["10.0.1.51"]',
    ),
    [
      "9:21: vrrp.instances.B.virtual_router_id: virtual_router_id 7 is already used by instance 'A' on eth0 (inet); it must be unique per interface and family",
    ],
  ],
  [
    "notify as a shell string and with a relative program",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'virtual_ipaddress = ["10.0.1.50"]',
      'notify_master = "/usr/bin/logger master"',
      'notify_backup = ["logger", "backup"]',
    ),
    [
      '7:17: vrrp.instances.VI_1.notify_master: expected an argv array like ["/usr/local/bin/notify", "arg"]; a shell command string is not allowed',
      "8:18: vrrp.instances.VI_1.notify_backup[0]: program 'logger' must be an absolute path (no PATH lookup, no shell)",
    ],
  ],
  [
    "sync group naming an undefined instance, and an instance in two groups",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'virtual_ipaddress = ["10.0.1.50"]',
      "[vrrp.sync_groups.G1]",
      'instances = ["VI_1", "VI_9"]',
      "[vrrp.sync_groups.G2]",
      'instances = ["VI_1"]',
    ),
    [
      "8:22: vrrp.sync_groups.G1.instances[1]: VRRP instance 'VI_9' is not defined in [vrrp.instances] (did you mean 'VI_1'?); defined: VI_1",
      "10:14: vrrp.sync_groups.G2.instances[0]: VRRP instance 'VI_1' is already in sync group 'G1'; an instance belongs to at most one group",
    ],
  ],
  [
    "track_service naming an undefined service",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'virtual_ipaddress = ["10.0.1.50"]',
      'track_service = ["wbe"]',
    ),
    ["7:18: vrrp.instances.VI_1.track_service[0]: service 'wbe' is not defined in [services]; defined: none"],
  ],
  [
    "nopreempt with state MASTER",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'state = "MASTER"',
      "nopreempt = true",
      'virtual_ipaddress = ["10.0.1.50"]',
    ),
    [
      '7:13: vrrp.instances.VI_1.nopreempt: nopreempt needs state = "BACKUP" (a MASTER start preempts anyway)',
    ],
  ],
  [
    "unicast_src_ip not on the instance's interface",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'virtual_ipaddress = ["10.0.1.50"]',
      'unicast_src_ip = "10.0.1.9"',
      'unicast_peer = ["10.0.1.3"]',
    ),
    [
      "7:18: vrrp.instances.VI_1.unicast_src_ip: 10.0.1.9 is not an address of interface 'eth0'; its addresses: 10.0.1.2, 10.0.1.100",
    ],
  ],
  // ---- services ----
  [
    "unknown scheduler",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'scheduler = "wrrr"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "6:13: services.web.scheduler: unknown scheduler 'wrrr'; allowed: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos (did you mean 'wrr'?)",
    ],
  ],
  [
    "port out of range",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 65536",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["5:8: services.web.port: 65536 is out of range; allowed: 0..65535"],
  ],
  [
    "unknown forwarding method",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'method = "direct"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["6:10: services.web.method: unknown forwarding method 'direct'; allowed: nat, dr, tun"],
  ],
  [
    "weight out of range",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
      "weight = 70000",
    ),
    ["8:10: services.web.real[0].weight: 70000 is out of range; allowed: 0..65535"],
  ],
  [
    "duplicate vip:port:protocol",
    toml(
      ...IF0,
      "[services.a]",
      'vip = "10.0.1.100"',
      "port = 80",
      'real = [{ address = "10.0.1.11" }]',
      "[services.b]",
      'vip = "10.0.1.100"',
      "port = 80",
      'real = [{ address = "10.0.1.12" }]',
    ),
    ["8:7: services.b.vip: 10.0.1.100:80/tcp is already defined by service 'a'"],
  ],
  [
    "duplicate fwmark",
    toml(
      ...IF0,
      "[services.a]",
      "fwmark = 5",
      'real = [{ address = "10.0.1.11" }]',
      "[services.b]",
      "fwmark = 5",
      'real = [{ address = "10.0.1.12" }]',
    ),
    ["7:10: services.b.fwmark: fwmark 5 (inet) is already defined by service 'a'"],
  ],
  [
    "DR real server off every connected subnet",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'method = "dr"',
      "[[services.web.real]]",
      'address = "10.9.9.9"',
    ),
    [
      "8:11: services.web.real[0].address: real server 10.9.9.9 is not on a connected subnet of any interface (DR needs layer-2 adjacency); connected: 10.0.1.0/24",
    ],
  ],
  [
    "IPv6 real server behind an IPv4 VIP with NAT",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "[[services.web.real]]",
      'address = "2001:db8::11"',
    ),
    [
      '7:11: services.web.real[0].address: real server 2001:db8::11 is IPv6 but the service is IPv4; the kernel allows mixed families only with method = "tun"',
    ],
  ],
  [
    "vip and fwmark together",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "fwmark = 3",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "5:1: services.web.fwmark: vip and fwmark are exclusive; a service is either vip + port or a firewall mark",
    ],
  ],
  [
    "neither vip nor fwmark",
    toml(...IF0, "[services.web]", "port = 80", "[[services.web.real]]", 'address = "10.0.1.11"'),
    ["3:1: services.web: missing required key 'vip' (or 'fwmark')"],
  ],
  [
    "sh_port without the sh scheduler",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "sh_port = true",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["6:1: services.web.sh_port: sh_port applies only to scheduler = \"sh\" (this service uses 'wlc')"],
  ],
  [
    "persistence_netmask without persistence_timeout",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'persistence_netmask = "255.255.255.0"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["6:1: services.web.persistence_netmask: persistence_netmask needs persistence_timeout"],
  ],
  [
    "non-contiguous persistence netmask",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "persistence_timeout = 60",
      'persistence_netmask = "255.0.255.0"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      '7:23: services.web.persistence_netmask: invalid netmask string "255.0.255.0"; expected a contiguous IPv4 mask like "255.255.255.0"',
    ],
  ],
  [
    "l_threshold above u_threshold",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
      "u_threshold = 100",
      "l_threshold = 200",
    ),
    ["9:15: services.web.real[0].l_threshold: l_threshold 200 is above u_threshold 100; allowed: 0..100"],
  ],
  [
    "DR real server on another port",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'method = "dr"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
      "port = 8080",
    ),
    [
      '9:8: services.web.real[0].port: port 8080 differs from the service port 80, but DR cannot rewrite ports; remove it or use method = "nat"',
    ],
  ],
  [
    "service VIP not carried by its VRRP instance",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      'virtual_ipaddress = ["10.0.1.50/24"]',
      "[services.web]",
      'vip = "10.0.1.51"',
      "port = 80",
      'vrrp_instance = "VI_1"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["8:7: services.web.vip: vip 10.0.1.51 is not among vrrp.instances.VI_1.virtual_ipaddress (10.0.1.50)"],
  ],
  [
    "service VIP that no interface or instance holds",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.7.1"',
      "port = 80",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "4:7: services.web.vip: vip 10.0.7.1 is neither an interface address nor a VRRP virtual_ipaddress; IPVS only sees traffic to local addresses",
    ],
  ],
  [
    "unknown check type",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'check = { type = "htpp" }',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "6:18: services.web.check.type: unknown check type 'htpp'; allowed: tcp, http, https, mysql, dns, exec (did you mean 'http'?)",
    ],
  ],
  [
    "check timeout longer than its interval",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'check = { type = "tcp", interval = 2, timeout = 5 }',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "6:49: services.web.check.timeout: timeout 5 s is longer than the interval 2 s; allowed: at most the interval",
    ],
  ],
  [
    "mysql check without a user",
    toml(
      ...IF0,
      "[services.db]",
      'vip = "10.0.1.100"',
      "port = 3306",
      "[services.db.check]",
      'type = "mysql"',
      "[[services.db.real]]",
      'address = "10.0.1.21"',
    ),
    ["6:1: services.db.check: missing required key 'user' (the account the check logs in as)"],
  ],
  [
    "http check body regex that does not compile",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'check = { type = "http", body = "ok(" }',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["6:33: services.web.check.body: invalid regular expression /ok(/: missing )"],
  ],
  [
    "quorum that can never be met",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "quorum = 5",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
      "weight = 2",
    ),
    ["6:10: services.web.quorum: quorum 5 can never be met: the real servers' weights add up to 2"],
  ],
  [
    "NAT with forwarding turned off",
    toml(
      "[system.sysctl]",
      "ip_forward = false",
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    [
      "2:14: system.sysctl.ip_forward: NAT service 'web' needs ip_forward = true (replies from real servers are routed through this box)",
    ],
  ],
  [
    "GUE tunnel without a port",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'method = "tun"',
      'tun_type = "gue"',
      "[[services.web.real]]",
      'address = "10.0.1.11"',
    ),
    ["3:1: services.web: missing required key 'tun_port' (the GUE UDP port, for tun_type = \"gue\")"],
  ],
  [
    "service with no real servers",
    toml(...IF0, "[services.web]", 'vip = "10.0.1.100"', "port = 80"),
    ["3:1: services.web: has no real servers; add [[services.web.real]] entries (or a sorry_server)"],
  ],
  [
    "NAT real server that no subnet or route reaches",
    toml(
      ...IF0,
      'routes = [{ to = "10.8.0.0/16", via = "10.0.1.1" }]',
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'real = [{ address = "10.8.0.5" }, { address = "10.9.0.5" }]',
    ),
    [
      "7:47: services.web.real[1].address: real server 10.9.0.5 is not reachable: no connected subnet or route in [interfaces] covers it (NAT routes to it)",
    ],
  ],
  [
    "service with an empty list of real servers",
    toml(...IF0, "[services.web]", 'vip = "10.0.1.100"', "port = 80", "real = []"),
    ["6:8: services.web.real: lists no real servers; add at least one (or a sorry_server)"],
  ],
  [
    "real server that is the box itself",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "[[services.web.real]]",
      'address = "10.0.1.2"',
    ),
    ["7:11: services.web.real[0].address: real server 10.0.1.2 is an address of this box (interface 'eth0')"],
  ],
  // ---- more semantic rules ----
  [
    "macvlan_mode on an ethernet interface",
    toml("[interfaces.eth0]", 'macvlan_mode = "bridge"'),
    [
      '2:1: interfaces.eth0.macvlan_mode: macvlan_mode applies only to kind = "macvlan" (this interface is ethernet)',
    ],
  ],
  [
    "veth peer configured as something else",
    toml("[interfaces.ve0]", 'kind = "veth"', 'link = "ve1"', "[interfaces.ve1]", 'kind = "dummy"'),
    [
      '3:8: interfaces.ve0.link: veth peer \'ve1\' is configured as kind dummy; a veth pair\'s peer must be kind = "veth" with link = "ve0"',
    ],
  ],
  [
    "VLAN mtu above its parent's, IPv6 on a small mtu",
    toml(
      "[interfaces.eth0]",
      "mtu = 1500",
      "[interfaces.vl5]",
      'kind = "vlan"',
      'link = "eth0"',
      "vlan_id = 5",
      "mtu = 1000",
      'addresses = ["2001:db8::1/64"]',
      "[interfaces.vl6]",
      'kind = "vlan"',
      'link = "eth0"',
      "vlan_id = 6",
      "mtu = 9000",
    ),
    [
      "7:7: interfaces.vl5.mtu: mtu 1000 is below 1280, the minimum for IPv6 (2001:db8::1/64)",
      "13:7: interfaces.vl6.mtu: mtu 9000 is larger than the parent 'eth0' mtu 1500",
    ],
  ],
  [
    "v2-compat checksum on VRRPv2, duplicate unicast peer",
    toml(
      ...IF0,
      "[vrrp.instances.VI_1]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      "version = 2",
      'checksum = "v2-compat"',
      'virtual_ipaddress = ["10.0.1.50"]',
      'unicast_peer = ["10.0.1.3", "10.0.1.3"]',
    ),
    [
      '7:12: vrrp.instances.VI_1.checksum: checksum = "v2-compat" applies only to VRRPv3 over IPv4',
      "9:29: vrrp.instances.VI_1.unicast_peer[1]: peer 10.0.1.3 is listed twice",
    ],
  ],
  [
    "VRRPv2 with IPv6 addresses",
    toml(
      "[interfaces.eth0]",
      'addresses = ["2001:db8::2/64"]',
      "[vrrp.instances.VI_6]",
      'interface = "eth0"',
      "virtual_router_id = 1",
      "version = 2",
      'virtual_ipaddress = ["2001:db8::50"]',
    ),
    ["6:11: vrrp.instances.VI_6.version: VRRPv2 carries IPv4 only; use version = 3 for IPv6 addresses"],
  ],
  [
    "ops on a TCP service, sip persistence on TCP, hysteresis not below quorum",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      "ops = true",
      "persistence_timeout = 30",
      'persistence_engine = "sip"',
      "quorum = 2",
      "hysteresis = 2",
      'real = [{ address = "10.0.1.11", weight = 5 }]',
    ),
    [
      '6:7: services.web.ops: ops (one-packet scheduling) applies only to protocol = "udp"',
      '8:22: services.web.persistence_engine: persistence_engine "sip" applies only to protocol = "udp"',
      "10:14: services.web.hysteresis: hysteresis 2 must be less than quorum 2",
    ],
  ],
  [
    "fwmark service with a port, and a check with no port to probe",
    toml(
      ...IF0,
      "[services.m]",
      "fwmark = 9",
      "port = 80",
      'check = { type = "tcp" }',
      'real = [{ address = "10.0.1.11" }]',
    ),
    [
      "5:1: services.m.port: port does not apply to a fwmark service (the mark selects the traffic); set it on the real servers",
      "6:1: services.m.check: check needs a port: the real server's port is 0 (fwmark service); set port in the check",
    ],
  ],
  [
    "exec check without argv, dns check with a bad record type",
    toml(
      ...IF0,
      "[services.dns]",
      'vip = "10.0.1.100"',
      "port = 53",
      'protocol = "udp"',
      "[[services.dns.real]]",
      'address = "10.0.1.11"',
      'check = { type = "exec" }',
      "[[services.dns.real]]",
      'address = "10.0.1.12"',
      'check = { type = "dns", name = "example.net", record_type = "AAA" }',
    ),
    [
      '9:1: services.dns.real[0].check: missing required key \'argv\' (e.g. ["/usr/local/bin/check-app", "--quick"])',
      "12:61: services.dns.real[1].check.record_type: unknown DNS record type 'AAA'; allowed: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT (did you mean 'AAAA'?)",
    ],
  ],
  [
    "https-only keys on an http check",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'check = { type = "http", sni = "a.example" }',
      'real = [{ address = "10.0.1.11" }]',
    ),
    [
      "6:26: services.web.check.sni: unknown key 'sni'; allowed keys here: type, interval, timeout, rise, fall, jitter, source, port, path, expect, body, digest, host",
    ],
  ],
  [
    "sorry server with a bad address, real servers given as a table",
    toml(
      ...IF0,
      "[services.web]",
      'vip = "10.0.1.100"',
      "port = 80",
      'sorry_server = { address = "10.0.1" }',
      "[services.web.real]",
      'address = "10.0.1.11"',
    ),
    [
      "6:28: services.web.sorry_server.address: invalid IP address '10.0.1'; expected IPv4 like 10.0.0.1 or IPv6 like 2001:db8::1",
      "7:15: services.web.real: expected [[services.web.real]] entries (an array of tables), got a table",
    ],
  ],
  [
    "short API token, bad console device, wrong type for a bool",
    toml(
      "[system]",
      'console = "com1"',
      "[system.ssh]",
      'enabled = "yes"',
      "[system.api]",
      'token = "short"',
    ),
    [
      "2:11: system.console: invalid console device 'com1'; expected a name like ttyS0, tty1 or hvc0, or \"\" for none",
      '4:11: system.ssh.enabled: expected true or false, got string "yes"',
      "6:9: system.api.token: token is 5 characters; allowed: at least 16",
    ],
  ],
  [
    "duplicate ssh user",
    toml(
      "[[system.ssh.users]]",
      'name = "ops"',
      'authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICZ5YemySbTzaO4wg+p+8yPvEfe9QBDj1GDzkqJ95CZJ"]',
      "[[system.ssh.users]]",
      'name = "ops"',
      'authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMQ8k88OtJAfT9ASjGSxLJQwdA3fhP1ae6LgXqNFI4Jo"]',
    ),
    ["5:8: system.ssh.users[1].name: duplicate user 'ops'; each user appears once"],
  ],
  // ---- update ----
  [
    "update url with an unsupported scheme, no keys",
    toml("[update]", 'url = "ftp://updates.example.net/"'),
    [
      "1:1: update: missing required key 'trusted_keys' (an update url needs at least one Ed25519 key to verify images)",
      "2:7: update.url: invalid update url 'ftp://updates.example.net/'; expected an http:// or https:// URL",
    ],
  ],
  [
    "trusted key that is not Ed25519",
    toml("[update]", 'trusted_keys = ["AAAA"]'),
    [
      '2:17: update.trusted_keys[0]: not an Ed25519 public key: decodes to 3 bytes that are not an Ed25519 key (expected 32 raw bytes, or a 44-byte SPKI); expected base64 of the 32 key bytes or a PEM "PUBLIC KEY" block',
    ],
  ],
  [
    "tries out of range",
    toml("[update]", "tries = 11"),
    ["2:9: update.tries: 11 is out of range; allowed: 1..10"],
  ],
  [
    "reboot window policy without a window",
    toml("[update]", 'reboot = "window"'),
    ["1:1: update: missing required key 'reboot_window' (e.g. \"02:00-04:00\", UTC)"],
  ],
  [
    "ipvs timeout out of range and unknown key",
    toml("[ipvs]", "timeout_tcp = -1", "timout_udp = 5"),
    [
      "2:15: ipvs.timeout_tcp: -1 is out of range; allowed: 0..86400",
      "3:1: ipvs.timout_udp: unknown key 'timout_udp' (did you mean 'timeout_udp'?); allowed keys here: timeout_tcp, timeout_tcpfin, timeout_udp, drain_timeout, sync_daemon",
    ],
  ],
  [
    "sync daemon on an undefined interface, following an undefined instance",
    toml(...IF0, "[ipvs.sync_daemon]", 'interface = "eth9"', 'vrrp_instance = "VI_X"', "syncid = 256"),
    [
      "4:13: ipvs.sync_daemon.interface: interface 'eth9' is not defined in [interfaces] (did you mean 'eth0'?); defined: eth0",
      "5:17: ipvs.sync_daemon.vrrp_instance: VRRP instance 'VI_X' is not defined in [vrrp.instances]; defined: none",
      "6:10: ipvs.sync_daemon.syncid: 256 is out of range; allowed: 0..255",
    ],
  ],
  [
    "sync daemon state vrrp without an instance, and a unicast group",
    toml(...IF0, "[ipvs.sync_daemon]", 'interface = "eth0"', 'group = "10.0.0.1"'),
    [
      "3:1: ipvs.sync_daemon: missing required key 'vrrp_instance' (state \"vrrp\" follows a VRRP instance's MASTER/BACKUP state)",
      "5:9: ipvs.sync_daemon.group: '10.0.0.1' is not a multicast address (224.0.0.0/4 or ff00::/8)",
    ],
  ],
  [
    "sync daemon with a fixed state does not take an instance",
    toml(...IF0, "[ipvs.sync_daemon]", 'interface = "eth0"', 'state = "master"', 'vrrp_instance = "VI_1"'),
    ["6:1: ipvs.sync_daemon.vrrp_instance: 'vrrp_instance' applies only with state = \"vrrp\""],
  ],
];

describe("broken configs report exact positions and messages", () => {
  test("at least 40 distinct broken configs", () => {
    expect(BROKEN.length).toBeGreaterThanOrEqual(40);
    expect(new Set(BROKEN.map(([, text]) => text)).size).toBe(BROKEN.length);
  });
  for (const [name, text, expected] of BROKEN) {
    test(name, () => {
      expect(problems(text)).toEqual(expected);
    });
  }
});

describe("reporting", () => {
  test("every problem in one run, sorted by line and column", () => {
    const got = problems(
      toml(
        "[services.web]",
        'vip = "10.0.1.100"',
        "port = 80",
        'scheduler = "wrrr"',
        "[[services.web.real]]",
        'address = "10.0.1.999"',
        "weight = -1",
        "[system]",
        'hostnam = "x"',
        "[interfaces.eth0]",
        'addresses = ["10.0.1.2/24", "10.0.1.100/24"]',
        "mtu = 9999999",
      ),
    );
    expect(got.map((l) => l.split(": ")[0])).toEqual(["4:13", "6:11", "7:10", "9:1", "12:7"]);
  });

  test("formatConfigError is FILE:LINE:COL: message", () => {
    expect(formatConfigError({ file: "a/b.toml", line: 3, col: 7, message: "x: bad" })).toBe(
      "a/b.toml:3:7: x: bad",
    );
  });

  test("a missing file is an error at 1:1 with the OS reason", async () => {
    const r = await loadConfigFile("/nonexistent/fulcrum.toml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatConfigError)).toEqual([
      "/nonexistent/fulcrum.toml:1:1: cannot read config: no such file (ENOENT)",
    ]);
  });

  test("a directory is an error at 1:1 with the OS reason", async () => {
    const r = await loadConfigFile(EXAMPLES);
    expect(r.ok ? [] : r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`)).toEqual([
      "1:1: cannot read config: is a directory (EISDIR)",
    ]);
  });
});

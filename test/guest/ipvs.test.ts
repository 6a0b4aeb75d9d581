// IPVS in a booted lab guest: fulcrum (PID 1) programs every method, scheduler and option from
// test/guest/fixtures/ipvs-a.toml, and ipvsadm, a reader we did not write, must show exactly what the
// config says. Then traffic from the client namespace through the director to real servers in their
// namespaces, for DR, NAT and TUN, and a live drain through the management API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Lab } from "../../qemu/lab.ts";
import type { RealServerSpec } from "../../qemu/topology.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import type { Config, ServiceConfig } from "../../src/config/types.ts";
import { pushFile, waitInGuest } from "../helpers/guest-files.ts";
import { GUEST_SETUP_TIMEOUT_MS, guestTestsEnabled, labImage } from "../helpers/qemu.ts";

const PREFIX = "flab-ipvs-";
const CONFIG = join(import.meta.dir, "fixtures/ipvs-a.toml");
const TOKEN = "lab-admin-token-0123456789";
const BUN = join(import.meta.dir, "../../node_modules/.bin/bun");
const TEST_TIMEOUT_MS = 180_000;

const REAL_SERVERS: RealServerSpec[] = [
  ...[1, 2, 3].map((n) => ({
    name: `rs${n}`,
    address: `10.0.1.1${n}/24`,
    method: "dr" as const,
    vip: "10.0.1.100",
  })),
  ...[1, 2].map((n) => ({
    name: `rsn${n}`,
    address: `10.0.2.2${n}/24`,
    method: "nat" as const,
    vip: "10.0.1.101",
    gateway: "10.0.2.1",
    port: 8080,
  })),
];
// The TUN real server runs in a second guest: the host kernel here has no ipip module for a namespace.
const TUN_RS_SETUP = [
  "modprobe ipip",
  "ip link set tunl0 up",
  "ip addr add 10.0.1.102/32 dev tunl0",
  "for d in all tunl0 eth0; do sysctl -qw net.ipv4.conf.$d.rp_filter=0; done",
  "mkdir -p /tmp/www && echo rst1 > /tmp/www/index.html",
  "busybox httpd -p 80 -h /tmp/www",
].join(" && ");

/** ipvsadm -Ln output as blocks: a service line and its real-server lines, whitespace folded. */
function parseIpvsadm(text: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/\s+/g, " ");
    if (/^(TCP|UDP|SCTP|FWM) /.test(line)) {
      current = [];
      blocks.set(line, current);
    } else if (line.startsWith("-> ") && current && !line.startsWith("-> RemoteAddress")) {
      current.push(line.slice(3));
    }
  }
  for (const dests of blocks.values()) dests.sort();
  return blocks;
}

const bracket = (a: string) => (a.includes(":") ? `[${a}]` : a);

/** The service line ipvsadm prints for a configured service. */
function serviceLine(s: ServiceConfig): string {
  let line =
    s.fwmark !== undefined
      ? `FWM ${s.fwmark} ${s.scheduler}`
      : `${s.protocol?.toUpperCase()} ${bracket(s.vip ?? "")}:${s.port} ${s.scheduler}`;
  if (s.persistence_timeout !== undefined) {
    line += ` persistent ${s.persistence_timeout}`;
    const prefix = s.persistence_prefix;
    if (s.family === "inet" && prefix !== undefined && prefix !== 32) {
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      line += ` mask ${[24, 16, 8, 0].map((b) => (mask >>> b) & 255).join(".")}`;
    }
    if (s.family === "inet6" && prefix !== undefined && prefix !== 128) line += ` mask ${prefix}`;
    if (s.persistence_engine !== undefined) line += ` pe ${s.persistence_engine}`;
  }
  if (s.ops) line += " ops";
  const flags = [
    ...(s.scheduler === "sh" ? [s.sh_fallback && "sh-fallback", s.sh_port && "sh-port"] : []),
    ...(s.scheduler === "mh" ? [s.mh_fallback && "mh-fallback", s.mh_port && "mh-port"] : []),
  ].filter(Boolean);
  if (flags.length > 0) line += ` (${flags.join(",")})`;
  return line;
}

const FORWARD = { nat: "Masq", dr: "Route", tun: "Tunnel" } as const;
/** ipvsadm's short form of the tunnel checksum flags. */
const CSUM_FLAG = { nocsum: "-c", csum: "+c", remcsum: "r+c" } as const;

/** Real-server lines of `ipvsadm -Ln --tun-info`: address, forward, tunnel info, weight, conns. */
function tunInfoLines(s: ServiceConfig): string[] {
  return s.real
    .map((r) => {
      let tunnel = "n/a";
      if (r.method === "tun") {
        tunnel = s.tun_type;
        if (s.tun_type === "gue") tunnel += `:${s.tun_port}`;
        if (s.tun_type !== "ipip") tunnel += `:${CSUM_FLAG[s.tun_checksum ?? "nocsum"]}`;
      }
      return `${bracket(r.address)}:${r.port} ${FORWARD[r.method]} ${tunnel} ${r.weight} 0 0`;
    })
    .sort();
}

async function curlSpread(lab: Lab, vip: string, count: number): Promise<Map<string, number>> {
  const net = lab.network;
  const script = `for i in $(seq ${count}); do curl -s -m 3 http://${vip}/ || echo FAIL; done`;
  const r = await net.exec(net.clientNs, ["sh", "-c", script], 120_000);
  const counts = new Map<string, number>();
  for (const line of r.stdout.split("\n").filter((l) => l !== ""))
    counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

describe.skipIf(!guestTestsEnabled)("IPVS in a guest, judged by ipvsadm", () => {
  let lab: Lab | undefined;
  let config: Config;
  /** Real-server processes a test started again; killed in afterAll. */
  const restarted: ReturnType<typeof Bun.spawn>[] = [];
  const shell = () => lab!.guest("a").shell;

  beforeAll(async () => {
    const loaded = await loadConfigFile(CONFIG);
    if (!loaded.ok) throw new Error(`fixture config does not load: ${JSON.stringify(loaded.errors)}`);
    config = loaded.config;
    const image = await labImage();
    lab = await Lab.start({
      prefix: PREFIX,
      image,
      boot: "direct",
      guests: [
        { id: "a", config: CONFIG, front: "10.0.1.2/24", mgmt: "10.0.9.11/24" },
        {
          id: "t",
          config: join(import.meta.dir, "fixtures/tun-rs.toml"),
          front: "10.0.1.31/24",
          mgmt: "10.0.9.31/24",
        },
      ],
      realServers: REAL_SERVERS,
      client: { address: "10.0.1.50/24" },
      log: (l) => process.stderr.write(`  ${l}\n`),
    });
    await lab.guest("t").shell.check(TUN_RS_SETUP);
    await lab.guest("a").serial.waitFor(/"event":"ipvs\.applied"/, 60_000);
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const p of restarted) p.kill("SIGKILL");
    await lab?.stop();
  });

  test(
    "ipvsadm -Ln shows every configured service with its scheduler and flags, and nothing failed",
    async () => {
      const events = lab!.guest("a").serial.events();
      expect(events.filter((e) => e["event"] === "ipvs.change_failed").map((e) => e["reason"])).toEqual([]);
      const shown = parseIpvsadm(await shell().check("ipvsadm -Ln"));
      expect([...shown.keys()].sort()).toEqual(config.services.map(serviceLine).sort());
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "real servers: forwarding method, tunnel type/port/checksum and weight (ipvsadm --tun-info)",
    async () => {
      const shown = parseIpvsadm(await shell().check("ipvsadm -Ln --tun-info"));
      for (const s of config.services)
        expect({ [s.name]: shown.get(serviceLine(s)) }).toEqual({ [s.name]: tunInfoLines(s) });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "thresholds, timeouts and the sync daemon",
    async () => {
      const shown = parseIpvsadm(await shell().check("ipvsadm -Ln --thresholds"));
      const wrr = config.services.find((s) => s.name === "s-wrr")!;
      expect(shown.get(serviceLine(wrr))).toEqual(["10.0.1.201:1001 100 10 0 0", "10.0.1.202:1001 0 0 0 0"]);
      const ovf = config.services.find((s) => s.name === "s-ovf")!;
      expect(shown.get(serviceLine(ovf))).toEqual(["10.0.1.211:1011 50 0 0 0"]);
      expect((await shell().check("ipvsadm -Ln --timeout")).trim()).toBe(
        "Timeout (tcp tcpfin udp): 600 60 120",
      );
      expect((await shell().check("ipvsadm -Ln --daemon")).trim()).toBe(
        "master sync daemon (mcast=eth1, syncid=9, maxlen=1400, group=224.0.0.81, port=8850, ttl=2)",
      );
    },
    TEST_TIMEOUT_MS,
  );

  for (const [name, vip, servers] of [
    ["DR", "10.0.1.100", ["rs1", "rs2", "rs3"]],
    ["NAT", "10.0.1.101", ["rsn1", "rsn2"]],
    ["TUN", "10.0.1.102", ["rst1"]],
  ] as const) {
    test(
      `${name}: the client's requests to ${vip} reach every real server, spread by rr`,
      async () => {
        const count = 60 * servers.length;
        const spread = await curlSpread(lab!, vip, count);
        expect(spread.get("FAIL")).toBeUndefined();
        expect([...spread.keys()].sort()).toEqual([...servers].sort());
        for (const n of spread.values()) expect(n).toBe(60);
      },
      TEST_TIMEOUT_MS,
    );
  }

  test(
    "ipvsadm --stats counts the connections the client made",
    async () => {
      // The kernel folds its per-CPU counters into what it reports from its estimator thread (every 2 s,
      // later on a busy TCG guest): wait for the count rather than read it once.
      const webLine = (out: string) =>
        [...parseIpvsadm(out).keys()].find((k) => k.startsWith("TCP 10.0.1.100:80 "));
      const conns = (out: string) => Number(webLine(out)?.split(" ")[2] ?? 0);
      const out = await waitInGuest(shell(), "ipvsadm -Ln --stats", (o) => conns(o) >= 180, 30_000);
      const shown = parseIpvsadm(out);
      const line = webLine(out);
      expect(line).toBeDefined();
      expect(conns(out)).toBeGreaterThanOrEqual(180);
      for (const d of shown.get(line!) ?? []) expect(Number(d.split(" ")[1])).toBeGreaterThanOrEqual(60);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "interfaces the host kernel cannot make: vlan, dummy and macvlan, with MTU and addresses (ip -j in the guest)",
    async () => {
      type Link = {
        ifname: string;
        mtu: number;
        linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
      };
      const links = JSON.parse(await shell().check("ip -j -d link show")) as Link[];
      const by = new Map(links.map((l) => [l.ifname, l]));
      expect(by.get("eth0.100")?.linkinfo).toMatchObject({ info_kind: "vlan", info_data: { id: 100 } });
      expect(by.get("eth0.100")?.mtu).toBe(1400);
      expect(by.get("dum0")?.linkinfo?.info_kind).toBe("dummy");
      expect(by.get("mv0")?.linkinfo).toMatchObject({ info_kind: "macvlan", info_data: { mode: "bridge" } });
      const addrs = JSON.parse(await shell().check("ip -j addr show")) as {
        addr_info: { local: string }[];
      }[];
      const locals = addrs.flatMap((l) => l.addr_info.map((a) => a.local));
      for (const a of ["10.0.100.2", "10.0.200.1", "10.0.201.1"]) expect(locals).toContain(a);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "health: a real server whose HTTP check fails leaves the pool within fall x interval + timeout, and returns",
    async () => {
      const net = lab!.network;
      const ns = net.serverNs("rs2");
      const inPool = async () =>
        (await shell().check("ipvsadm -Ln -t 10.0.1.100:80")).includes("10.0.1.12:80");
      expect(await inPool()).toBe(true);
      const pids = (await net.exec(net.bridgeNs, ["ip", "netns", "pids", ns])).stdout
        .split("\n")
        .filter((p) => /^\d+$/.test(p));
      expect(pids.length).toBeGreaterThan(0);
      const seen = lab!.guest("a").serial.events().length;
      for (const pid of pids) process.kill(Number(pid), "SIGKILL");
      const killedAt = performance.now();
      // fall 2 x interval 1 s + timeout 1 s = 3 s, plus the TCG guest's scheduling slack.
      await waitInGuest(shell(), "ipvsadm -Ln -t 10.0.1.100:80", (o) => !o.includes("10.0.1.12:80"), 15_000);
      const downMs = performance.now() - killedAt;
      expect(downMs).toBeLessThan(3_000 + 5_000);
      const spread = await curlSpread(lab!, "10.0.1.100", 40);
      expect(spread.get("FAIL")).toBeUndefined();
      expect([...spread.keys()].sort()).toEqual(["rs1", "rs3"]);
      // The console may trail the kernel by a moment: wait for the line rather than read it once.
      const down = await lab!
        .guest("a")
        .serial.waitForEvent((e) => e["event"] === "health.real.down", 15_000, seen);
      expect(String(down["reason"])).toContain("10.0.1.12:80");
      // Back: a new server process, in the pool again after rise (2) good checks.
      const server = Bun.spawn(
        ["ip", "netns", "exec", ns, BUN, join(import.meta.dir, "../../qemu/real-server.ts"), "rs2", "80"],
        {
          stdout: "ignore",
          stderr: "ignore",
        },
      );
      restarted.push(server);
      await waitInGuest(shell(), "ipvsadm -Ln -t 10.0.1.100:80", (o) => o.includes("10.0.1.12:80"), 20_000);
      const again = await curlSpread(lab!, "10.0.1.100", 30);
      expect([...again.keys()].sort()).toEqual(["rs1", "rs2", "rs3"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "reload (SIGHUP) with one changed weight: that entry changes, every other kernel entry stays as it was",
    async () => {
      const entries = async () =>
        (await shell().check("ipvsadm -Ln"))
          .split("\n")
          .map((l) => l.trim().split(/\s+/).slice(0, 4).join(" "))
          .filter((l) => l !== "");
      const before = await entries();
      expect(before).toContain("-> 10.0.1.201:1001 Route 3");
      await shell().check("sed -i 's/^weight = 3$/weight = 4/' /data/config/fulcrum.toml && kill -HUP 1");
      await lab!.guest("a").serial.waitFor(/"event":"config\.reloaded"/, 30_000);
      const after = await entries();
      expect(after.filter((l) => !before.includes(l))).toEqual(["-> 10.0.1.201:1001 Route 4"]);
      expect(before.filter((l) => !after.includes(l))).toEqual(["-> 10.0.1.201:1001 Route 3"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "kill -9 of a running fulcrum under load: no request fails, its service is unchanged and not re-created",
    async () => {
      const sh = shell();
      await pushFile(
        sh,
        "/tmp/restart.toml",
        await Bun.file(join(import.meta.dir, "fixtures/ipvs-restart.toml")).bytes(),
      );
      const start =
        "FULCRUM_STATE_DIR=/run/fulcrum-2 FULCRUM_DATA_DIR=/tmp/f2 FULCRUM_LOG_FORMAT=json " +
        "setsid /usr/bin/fulcrum run /tmp/restart.toml >>/tmp/f2.log 2>&1 < /dev/null &";
      const applied = 'grep \'"event":"ipvs.applied"\' /tmp/f2.log';
      // The interactive shell interleaves job notices ("[1]+ Killed ..."): keep the JSON lines only.
      const appliedEvents = (out: string) => out.split("\n").filter((l) => l.startsWith("{"));
      await sh.check(start);
      await waitInGuest(sh, applied, (out) => appliedEvents(out).length >= 1, 60_000);
      const table = async () =>
        (await sh.check("ipvsadm -Ln -t 10.0.1.103:80"))
          .split("\n")
          .map((l) => l.trim().split(/\s+/).slice(0, 4).join(" ")) // address, forward, weight: not the counters
          .join("\n");
      const before = await table();
      expect(before).toContain("10.0.2.21:8080 Masq 1");

      const net = lab!.network;
      const load = Bun.spawn(
        [
          "ip",
          "netns",
          "exec",
          net.clientNs,
          "sh",
          "-c",
          "for i in $(seq 300); do curl -s -m 3 http://10.0.1.103/ || echo FAIL; done",
        ],
        { stdout: "pipe" },
      );
      // Kill it while the load runs, once the kernel has scheduled some of the requests.
      await waitInGuest(
        sh,
        "ipvsadm -Ln --stats -t 10.0.1.103:80 | awk '/^TCP/ {print $3}'",
        (o) => Number(o) >= 50,
        60_000,
      );
      await sh.check("pkill -9 -f 'run /tmp/restart.toml'");
      await sh.check(start);
      const lines = await waitInGuest(sh, applied, (out) => appliedEvents(out).length >= 2, 60_000);
      const second = JSON.parse(appliedEvents(lines)[1] ?? "{}") as { ops?: number; failed?: number };
      expect(second).toMatchObject({ ops: 0, failed: 0 }); // adopted: nothing re-created
      const answers = (await new Response(load.stdout).text()).trim().split("\n");
      expect(await load.exited).toBe(0);
      expect(answers.filter((a) => a === "FAIL")).toEqual([]);
      expect(answers).toHaveLength(300);
      expect(await table()).toBe(before);
      // The service kept its counters: it was never deleted and added again.
      // (counters reach the dump through the kernel's estimator thread, so wait for them with a deadline)
      const conns = await waitInGuest(
        sh,
        "ipvsadm -Ln --stats -t 10.0.1.103:80 | awk '/^TCP/ {print $3}'",
        (o) => Number(o) >= 300,
        30_000,
      );
      expect(Number(conns)).toBeGreaterThanOrEqual(300);
      await sh.check("pkill -f 'fulcrum run /tmp/restart.toml'; true");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "live drain: no new connections, the open one keeps working, then the real server leaves; nothing else changes",
    async () => {
      const net = lab!.network;
      // Every other service and real server, without the connection counters (entries expire on their own).
      const otherEntries = async () =>
        (await shell().check("ipvsadm -Ln"))
          .split("\n")
          .filter((l) => !/10\.0\.1\.(100|1[123]):80/.test(l))
          .map((l) => l.trim().split(/\s+/).slice(0, 4).join(" "));
      const others = await otherEntries();
      // One keep-alive connection through the VIP; it tells us which real server it landed on.
      const keeper = Bun.spawn(
        [
          "ip",
          "netns",
          "exec",
          net.clientNs,
          BUN,
          join(import.meta.dir, "fixtures/keepalive-client.ts"),
          "10.0.1.100",
          "80",
        ],
        { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
      );
      try {
        const reader = keeper.stdout.getReader();
        // Bounded reads: a connection that never answers fails the test here instead of hanging it.
        const answer = async (what: string) => {
          const r = await Promise.race([reader.read(), Bun.sleep(20_000).then(() => null)]);
          if (r === null) throw new Error(`keep-alive client: no ${what} answer within 20 s`);
          return new TextDecoder().decode(r.value).trim();
        };
        const first = await answer("first");
        expect(first).toMatch(/^rs[123]$/);
        const held = REAL_SERVERS.find((r) => r.name === first)!;
        const real = `${held.address.split("/")[0]}:80`;
        const drain = await shell().check(
          `curl -s -H 'Authorization: Bearer ${TOKEN}' -d '{"kind":"drain","service":"web-dr","real":"${real}"}' http://127.0.0.1:8080/api/v1/actions`,
        );
        expect(JSON.parse(drain)).toMatchObject({ ok: true });
        // Weight 0 in the kernel, the held connection still counted on it.
        const rowOf = (out: string) =>
          out
            .split("\n")
            .find((l) => l.includes(real))
            ?.trim()
            .split(/\s+/) ?? []; // -> ADDR:PORT Forward Weight ActiveConn InActConn
        const drained = await waitInGuest(
          shell(),
          "ipvsadm -Ln -t 10.0.1.100:80",
          (o) => rowOf(o)[3] === "0",
          10_000,
        );
        expect(rowOf(drained)[3]).toBe("0");
        expect(Number(rowOf(drained)[4])).toBeGreaterThanOrEqual(1);
        const spread = await curlSpread(lab!, "10.0.1.100", 40);
        expect(spread.get(first)).toBeUndefined();
        expect(spread.get("FAIL")).toBeUndefined();
        // The open connection still reaches the drained server.
        keeper.stdin.write("again\n");
        keeper.stdin.flush();
        const second = await answer("second");
        expect(second).toBe(first);
        keeper.stdin.end();
        await keeper.exited;
        // Removed once its connections are gone or drain_timeout (20 s) passed.
        const after = await waitInGuest(
          shell(),
          "ipvsadm -Ln -t 10.0.1.100:80",
          (o) => !o.includes(real),
          40_000,
        );
        expect(after).not.toContain(real);
        expect(await otherEntries()).toEqual(others);
      } finally {
        keeper.kill();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

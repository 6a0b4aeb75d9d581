// The whole appliance in the lab (issue #9), shared by test/guest/ha.test.ts and bench/ha-failover.ts:
// two directors (A priority 150, B 100; one VRRP instance carrying a web VIP and a MySQL VIP; the IPVS
// connection sync daemon on the management network following VRRP), three DR web real servers, a MariaDB
// primary and a replica (real replication) as DR real servers, a client on A's side of the front segment
// and a second client behind an inter-switch link together with B (so the segment can be split).
//
//   br0: tap-a0, client cl (10.0.1.50), rs1..rs3 (10.0.1.11-13), db1/db2 (10.0.1.21/22), isl0
//   br2: tap-b0, client cl2 (10.0.1.51), isl1          br1 (management, sync daemon): tap-a1, tap-b1
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { macFor } from "../../qemu/guest.ts";
import { Lab, sweepLab } from "../../qemu/lab.ts";
import type { RealServerSpec } from "../../qemu/topology.ts";
import type { LoadRecord, LoadSpec } from "./ha-load.ts";
import { labImage } from "./qemu.ts";
import { type Mariadb, type MariadbHost, Proc, startMariadb } from "./responders.ts";

export const WEB_VIP = "10.0.1.100";
export const DB_VIP = "10.0.1.110";
export const FRONT = { a: "10.0.1.2", b: "10.0.1.3" } as const;
export const MGMT = { a: "10.0.9.11", b: "10.0.9.12" } as const;
/** eth0 MACs the lab gives A and B (qemu/lab.ts: guest index 1 and 2). */
export const FRONT_MAC = { a: macFor(1, 0), b: macFor(2, 0) } as const;
/**
 * Health checks: an authenticated MySQL login takes ~1 s of a TCG guest's CPU, and over 2 s while the
 * guest is still settling after boot, so 3 s leaves room on a loaded host (on hardware 1 s would do).
 */
export const CHECK = { interval: 3, timeout: 3, fall: 2, rise: 2 } as const;
/**
 * A returning director waits this long after start before it takes the VIPs back: long enough for its
 * checks to have judged every real server (rise x interval, plus slack), as operators set preempt_delay.
 */
export const PREEMPT_DELAY_S = 10;
export const DB_USERS = {
  app: { user: "app", password: "app-pw" },
  check: { user: "fulcrum_check", password: "check-pw" },
  repl: { user: "repl", password: "repl-pw" },
} as const;
const BUN = join(import.meta.dir, "../../node_modules/.bin/bun");

export type Box = "a" | "b";

export interface HaConfigOptions {
  readonly box: Box;
  /** Run the IPVS connection sync daemon (following VRRP). */
  readonly sync: boolean;
  /** VRRP advert interval, seconds (default 1). */
  readonly advertInt?: number;
}

/** The director's config: what a team running keepalived + ipvsadm would write for this pair. */
export function haConfigToml(o: HaConfigOptions): string {
  const peer: Box = o.box === "a" ? "b" : "a";
  const real = (address: string, weight: number) =>
    `\n[[services.X.real]]\naddress = "${address}"\nweight = ${weight}`;
  const check = `interval = ${CHECK.interval}, timeout = ${CHECK.timeout}, rise = ${CHECK.rise}, fall = ${CHECK.fall}`;
  return [
    `# HA lab director ${o.box.toUpperCase()} (test/helpers/ha-lab.ts); connection sync ${o.sync ? "on" : "off"}`,
    "[system]",
    `hostname = "lb-ha-${o.box}"`,
    'console = "ttyS0"',
    "",
    "[system.log]",
    'level = "info"',
    "",
    "[interfaces.eth0]",
    `addresses = ["${FRONT[o.box]}/24"]`,
    'arp_role = "director"',
    "",
    "[interfaces.eth1]",
    `addresses = ["${MGMT[o.box]}/24"]`,
    "",
    "[vrrp.instances.VI_HA]",
    'interface = "eth0"',
    "virtual_router_id = 61",
    `priority = ${o.box === "a" ? 150 : 100}`,
    `advert_int = ${o.advertInt ?? 1}`,
    `state = "${o.box === "a" ? "MASTER" : "BACKUP"}"`,
    `preempt_delay = ${PREEMPT_DELAY_S}`,
    `virtual_ipaddress = ["${WEB_VIP}/24", "${DB_VIP}/24"]`,
    `unicast_src_ip = "${FRONT[o.box]}"`,
    `unicast_peer = ["${FRONT[peer]}"]`,
    'track_interface = ["eth0", { name = "eth1", weight = -20 }]',
    "",
    "[services.web]",
    `vip = "${WEB_VIP}"`,
    "port = 80",
    'scheduler = "rr"',
    'method = "dr"',
    'vrrp_instance = "VI_HA"',
    `check = { type = "http", path = "/healthz", expect = [200], ${check} }`,
    ...[11, 12, 13].map((n) => real(`10.0.1.${n}`, 100).replace("X", "web")),
    "",
    "# A primary and a replica: fo sends every new session to the live server with the highest weight.",
    "[services.mysql]",
    `vip = "${DB_VIP}"`,
    "port = 3306",
    'scheduler = "fo"',
    'method = "dr"',
    'vrrp_instance = "VI_HA"',
    `check = { type = "mysql", user = "${DB_USERS.check.user}", password = "${DB_USERS.check.password}", ${check} }`,
    real("10.0.1.21", 100).replace("X", "mysql"),
    real("10.0.1.22", 50).replace("X", "mysql"),
    "",
    "[ipvs]",
    "timeout_tcp = 900",
    ...(o.sync
      ? ["", "[ipvs.sync_daemon]", 'interface = "eth1"', "syncid = 61", 'vrrp_instance = "VI_HA"']
      : []),
    "",
  ].join("\n");
}

export const HA_REAL_SERVERS: RealServerSpec[] = [
  ...[1, 2, 3].map((n) => ({
    name: `rs${n}`,
    address: `10.0.1.1${n}/24`,
    method: "dr" as const,
    vip: WEB_VIP,
  })),
  ...[1, 2].map((n) => ({
    name: `db${n}`,
    address: `10.0.1.2${n}/24`,
    method: "dr" as const,
    vip: DB_VIP,
    port: 3306,
    http: false,
  })),
];

export interface HaLabOptions {
  readonly prefix: string;
  readonly sync: boolean;
  readonly advertInt?: number;
  readonly log?: (line: string) => void;
}

/** A MariaDB host in one of the lab's namespaces (the HA lab's own, not responders.ts's Lab). */
class NamespaceHost implements MariadbHost {
  readonly procs: Proc[] = [];
  readonly dirs: string[] = [];
  constructor(readonly ns: string) {}
  spawn(argv: string[], stdinPipe = false): Proc {
    const p = new Proc(["ip", "netns", "exec", this.ns, ...argv], stdinPipe);
    this.procs.push(p);
    return p;
  }
  tempDir(): string {
    const d = mkdtempSync(join(tmpdir(), "flab-ha-db-"));
    this.dirs.push(d);
    return d;
  }
}

export class HaLab {
  readonly configs: Record<Box, string>;
  private readonly hosts = new Map<string, NamespaceHost>();
  readonly dbs = new Map<"db1" | "db2", Mariadb>();
  private readonly loads: HaLoad[] = [];

  private constructor(
    readonly lab: Lab,
    readonly options: HaLabOptions,
    readonly workDir: string,
  ) {
    this.configs = { a: join(workDir, "a.toml"), b: join(workDir, "b.toml") };
  }

  /** Network, databases (primary + replica replicating), then both directors; resolves when both are ready. */
  static async start(options: HaLabOptions): Promise<HaLab> {
    await sweepLab(options.prefix);
    const image = await labImage();
    const workDir = join("/run", `${options.prefix}cfg`);
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    for (const box of ["a", "b"] as const) {
      writeFileSync(join(workDir, `${box}.toml`), haConfigToml({ box, ...options }));
    }
    const lab = await Lab.start({
      prefix: options.prefix,
      image,
      boot: "direct",
      guests: [
        { id: "a", config: join(workDir, "a.toml"), front: `${FRONT.a}/24`, mgmt: `${MGMT.a}/24` },
        { id: "b", config: join(workDir, "b.toml"), front: `${FRONT.b}/24`, mgmt: `${MGMT.b}/24` },
      ],
      realServers: HA_REAL_SERVERS,
      client: { address: "10.0.1.50/24" },
      farSide: { guests: ["b"], client: { address: "10.0.1.51/24" } },
      ...(options.log === undefined ? {} : { log: options.log }),
    }).catch(async (err) => {
      rmSync(workDir, { recursive: true, force: true });
      throw err;
    });
    const ha = new HaLab(lab, options, workDir);
    try {
      await ha.startDatabases();
    } catch (err) {
      await ha.stop();
      throw err;
    }
    return ha;
  }

  private host(name: string): NamespaceHost {
    let h = this.hosts.get(name);
    if (h === undefined) {
      h = new NamespaceHost(this.lab.network.serverNs(name));
      this.hosts.set(name, h);
      // `ip netns exec` mounts these over /etc: client names resolve from a file, DNS asks nobody.
      const etc = `/etc/netns/${h.ns}`;
      mkdirSync(etc, { recursive: true });
      writeFileSync(
        join(etc, "hosts"),
        "127.0.0.1 localhost\n10.0.1.2 lb-ha-a\n10.0.1.3 lb-ha-b\n10.0.1.50 client\n10.0.1.51 client2\n10.0.1.21 db1\n10.0.1.22 db2\n",
      );
      writeFileSync(join(etc, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    }
    return h;
  }

  private async startDatabases(): Promise<void> {
    const primary = await startMariadb(this.host("db1"), "10.0.1.21", 3306, 100_000, 1, "0.0.0.0");
    this.dbs.set("db1", primary);
    const { app, check, repl } = DB_USERS;
    await primary.sql(
      `CREATE USER '${repl.user}'@'%' IDENTIFIED BY '${repl.password}'; GRANT REPLICATION SLAVE ON *.* TO '${repl.user}'@'%'; ` +
        `CREATE USER '${check.user}'@'%' IDENTIFIED BY '${check.password}'; GRANT SLAVE MONITOR ON *.* TO '${check.user}'@'%'; ` +
        `CREATE USER '${app.user}'@'%' IDENTIFIED BY '${app.password}'; GRANT SELECT ON *.* TO '${app.user}'@'%';`,
    );
    const replica = await startMariadb(this.host("db2"), "10.0.1.22", 3306, 100_000, 2, "0.0.0.0");
    this.dbs.set("db2", replica);
    // From the start of the primary's binlog: the users above replicate too.
    const file = (await primary.sql("SHOW BINARY LOGS")).split("\n")[0]?.split("\t")[0] ?? "";
    await replica.sql(
      `CHANGE MASTER TO MASTER_HOST='10.0.1.21', MASTER_PORT=3306, MASTER_USER='${repl.user}', ` +
        `MASTER_PASSWORD='${repl.password}', MASTER_LOG_FILE='${file}', MASTER_LOG_POS=4, MASTER_CONNECT_RETRY=1; ` +
        "SET GLOBAL read_only = 1; START SLAVE;",
    );
    await waitUntil(
      async () => (await replica.sql(`SELECT COUNT(*) FROM mysql.user WHERE user='${app.user}'`)) === "1",
      60_000,
      "the replica to replicate the users",
    );
  }

  db(name: "db1" | "db2"): Mariadb {
    const d = this.dbs.get(name);
    if (d === undefined) throw new Error(`no database ${name}`);
    return d;
  }

  /** SIGKILLs a database server (the real-server death of a MySQL host). */
  async killDb(name: "db1" | "db2"): Promise<void> {
    await this.db(name).proc.kill();
  }

  async restartDb(name: "db1" | "db2"): Promise<void> {
    await this.db(name).restart(this.host(name));
  }

  /** Starts bounded client load from a client namespace (cl by default). */
  async startLoad(spec: Partial<LoadSpec> = {}, ns = this.lab.network.clientNs): Promise<HaLoad> {
    const full: LoadSpec = {
      web: WEB_VIP,
      db: DB_VIP,
      fresh: 2,
      keepalive: 4,
      mysql: 4,
      user: DB_USERS.app.user,
      password: DB_USERS.app.password,
      freshTimeoutMs: 2_000,
      pauseMs: 100,
      ...spec,
    };
    const load = new HaLoad(ns, full);
    this.loads.push(load);
    await load.waitStarted(full, 60_000);
    return load;
  }

  /** IPv4 addresses on a director's eth0, through its debug shell. */
  async frontAddresses(box: Box): Promise<string[]> {
    const out = await this.lab.guest(box).shell.check("ip -color=never -4 -o addr show dev eth0", 30_000);
    return [...out.matchAll(/inet (\S+)\//g)].map((m) => m[1] ?? "");
  }

  /** Does the director hold both VIPs (true), neither (false)? Throws when it holds only one. */
  async holdsVips(box: Box): Promise<boolean> {
    const addrs = await this.frontAddresses(box);
    const n = [WEB_VIP, DB_VIP].filter((v) => addrs.includes(v)).length;
    if (n === 1) throw new Error(`director ${box} holds one VIP only: ${addrs.join(" ")}`);
    return n === 2;
  }

  /** The MAC a client namespace's neighbour table has for `ip` ("" when none). */
  async clientMac(ns: string, ip: string): Promise<string> {
    const r = await this.lab.network.exec(ns, ["ip", "neigh", "show", ip]);
    return /lladdr (\S+)/.exec(r.stdout)?.[1] ?? "";
  }

  /** Real-server addresses in a director's IPVS table for `vip:port`. */
  async pool(box: Box, vip: string, port: number): Promise<string[]> {
    const out = await this.lab.guest(box).shell.check(`ipvsadm -Ln -t ${vip}:${port}`, 30_000);
    return [...out.matchAll(/-> (\d+\.\d+\.\d+\.\d+):\d+/g)].map((m) => m[1] ?? "");
  }

  /** `ipvsadm -Ln` without the connection counters: services, schedulers, real servers, methods, weights. */
  async ipvsTable(box: Box): Promise<string[]> {
    const out = await this.lab.guest(box).shell.check("ipvsadm -Ln", 30_000);
    return out
      .split("\n")
      .filter((l) => /^(TCP|UDP)|->\s+\d/.test(l.trim()))
      .map((l) => l.trim().split(/\s+/).slice(0, 4).join(" "));
  }

  /** A is master with both VIPs, B holds none, and (with `pools`) both have every real server in their pools. */
  async waitSteady(timeoutMs: number, pools = true): Promise<void> {
    await waitUntil(
      async () => {
        if (!(await this.holdsVips("a")) || (await this.holdsVips("b"))) return false;
        if (!pools) return true;
        for (const box of ["a", "b"] as const) {
          if ((await this.pool(box, WEB_VIP, 80)).length !== 3) return false;
          if ((await this.pool(box, DB_VIP, 3306)).length !== 2) return false;
        }
        return true;
      },
      timeoutMs,
      "A master with both VIPs, B without, every real server in both pools",
    );
  }

  /** VRRP states the director's console reported, in order (from its serial log). */
  vrrpStates(box: Box): string[] {
    return this.lab
      .guest(box)
      .serial.events()
      .filter((e) => e["event"] === "vrrp.state")
      .map((e) => String(e["to"]));
  }

  /**
   * Waits until `box`'s console has logged `state` as its latest VRRP transition; returns the transitions
   * since index `since`. The console lags the kernel: a VIP is gone before the line saying so is read.
   */
  async waitLastState(box: Box, state: string, since = 0, timeoutMs = 15_000): Promise<string[]> {
    await waitUntil(
      () => this.vrrpStates(box).slice(since).at(-1) === state,
      timeoutMs,
      `${box}'s console: ${state}`,
    );
    return this.vrrpStates(box).slice(since);
  }

  async stop(): Promise<void> {
    for (const l of this.loads) await l.stop();
    for (const h of this.hosts.values()) {
      for (const p of h.procs) await p.kill();
      for (const d of h.dirs) rmSync(d, { recursive: true, force: true });
      rmSync(`/etc/netns/${h.ns}`, { recursive: true, force: true });
    }
    await this.lab.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}

const MAX_RECORDS = 1_000_000;

/** The load agent (ha-load.ts) running in a namespace, and what it reported, with wall-clock times. */
export class HaLoad {
  readonly records: LoadRecord[] = [];
  private readonly proc: ReturnType<typeof Bun.spawn>;
  private readonly pumped: Promise<void>;
  private stopped = false;

  constructor(
    readonly ns: string,
    readonly spec: LoadSpec,
  ) {
    this.proc = Bun.spawn(
      ["ip", "netns", "exec", ns, BUN, join(import.meta.dir, "ha-load.ts"), JSON.stringify(spec)],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    this.pumped = this.pump(this.proc.stdout as ReadableStream<Uint8Array>);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += dec.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) {
        if (!l.startsWith("{")) continue;
        if (this.records.length >= MAX_RECORDS) this.records.splice(0, MAX_RECORDS / 10);
        this.records.push(JSON.parse(l) as LoadRecord);
      }
    }
  }

  /** Until every worker and session has had a first success. */
  async waitStarted(spec: LoadSpec, timeoutMs: number): Promise<void> {
    await waitUntil(
      () => {
        const open = (k: string) =>
          new Set(this.records.filter((r) => r.k === k && r.ok).map((r) => r.s)).size;
        return (
          open("fresh") >= spec.fresh && open("ka-open") >= spec.keepalive && open("my-open") >= spec.mysql
        );
      },
      timeoutMs,
      "the client load to get going",
    );
  }

  since(t: number): LoadRecord[] {
    return this.records.filter((r) => r.t >= t);
  }

  /** Keep-alive and MySQL sessions that answered within `windowMs` before now: id -> real server. */
  liveSessions(windowMs = 3_000): Map<number, { kind: "ka" | "my"; srv: string }> {
    const from = Date.now() - windowMs;
    const lost = new Set(this.records.filter((r) => r.k === "ka-lost" || r.k === "my-lost").map((r) => r.s));
    const live = new Map<number, { kind: "ka" | "my"; srv: string }>();
    for (const r of this.since(from)) {
      if ((r.k === "ka" || r.k === "my") && r.ok && !lost.has(r.s)) live.set(r.s, { kind: r.k, srv: r.srv });
    }
    return live;
  }

  /** Waits until each of these sessions has answered again after `t`; returns the ones that did not. */
  async waitProgress(ids: Iterable<number>, t: number, timeoutMs: number): Promise<number[]> {
    const want = [...ids];
    const pending = () => {
      const answered = new Set(
        this.since(t)
          .filter((r) => (r.k === "ka" || r.k === "my") && r.ok)
          .map((r) => r.s),
      );
      return want.filter((id) => !answered.has(id));
    };
    try {
      await waitUntil(() => pending().length === 0, timeoutMs, "every session to answer again");
    } catch {
      // reported to the caller
    }
    return pending();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const stdin = this.proc.stdin as import("bun").FileSink;
    try {
      stdin.write("stop\n");
      stdin.end();
    } catch {
      // already gone
    }
    const exited = await Promise.race([
      this.proc.exited.then(() => true),
      Bun.sleep(10_000).then(() => false),
    ]);
    if (!exited) this.proc.kill("SIGKILL");
    await this.pumped;
  }
}

export interface WindowSummary {
  /** Longest time between two successful fresh-connection requests. */
  readonly freshGapMs: number;
  readonly freshOk: number;
  readonly freshFailed: number;
  /** Longest time a keep-alive / MySQL session waited for an answer (max over sessions). */
  readonly kaMaxWaitMs: number;
  readonly myMaxWaitMs: number;
  /** Sessions that broke (had to reconnect). */
  readonly kaLost: number;
  readonly myLost: number;
  readonly servers: Readonly<Record<string, number>>;
}

/** What the client saw between `from` and `to` (wall-clock ms). Pure: records in, figures out. */
export function summarize(records: readonly LoadRecord[], from: number, to: number): WindowSummary {
  const inWindow = records.filter((r) => r.t >= from && r.t <= to);
  const okFresh = inWindow.filter((r) => r.k === "fresh" && r.ok).map((r) => r.t);
  let freshGapMs = 0;
  let prev = from;
  for (const t of okFresh) {
    freshGapMs = Math.max(freshGapMs, t - prev);
    prev = t;
  }
  freshGapMs = Math.max(freshGapMs, to - prev);
  const maxWait = (k: "ka" | "my") =>
    Math.max(0, ...inWindow.filter((r) => r.k === k && r.ok).map((r) => ("ms" in r ? r.ms : 0)));
  const servers: Record<string, number> = {};
  for (const r of inWindow) if (r.ok && r.k === "fresh") servers[r.srv] = (servers[r.srv] ?? 0) + 1;
  return {
    freshGapMs,
    freshOk: okFresh.length,
    freshFailed: inWindow.filter((r) => r.k === "fresh" && !r.ok).length,
    kaMaxWaitMs: maxWait("ka"),
    myMaxWaitMs: maxWait("my"),
    kaLost: inWindow.filter((r) => r.k === "ka-lost").length,
    myLost: inWindow.filter((r) => r.k === "my-lost").length,
    servers,
  };
}

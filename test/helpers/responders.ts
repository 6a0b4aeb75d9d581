// Real servers for health-check tests, in a network namespace of their own (prefix fhc-):
// HTTP/HTTPS (responders-http.ts), MariaDB from Debian, dnsmasq from Debian, and plain processes.
// The test process stays in the root namespace and reaches the servers through a veth pair whose
// addresses it creates; nothing leaves these two ends. Everything started here is stopped by PID in
// Lab.destroy(), which also deletes the namespace (and with it the veth pair).
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const isRoot = process.getuid?.() === 0;
const BUN = process.execPath;

export async function sh(
  argv: string[],
  opts: { allowFail?: boolean; stdin?: string } = {},
): Promise<string> {
  const p = Bun.spawn(argv, {
    stdout: "pipe",
    stderr: "pipe",
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  if (code !== 0 && opts.allowFail !== true)
    throw new Error(`${argv.join(" ")} exited ${code}: ${err.trim()}`);
  return out;
}

/** Polls `cond` until it holds or the deadline passes (no fixed sleeps). */
export async function waitFor<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** A process in the namespace, with its output kept as lines (bounded). */
export class Proc {
  readonly lines: string[] = [];
  private readonly proc: ReturnType<typeof Bun.spawn>;
  exitCode: number | null = null;

  constructor(argv: string[], stdinPipe: boolean) {
    this.proc = Bun.spawn(argv, { stdin: stdinPipe ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" });
    void this.pump(this.proc.stdout as ReadableStream<Uint8Array>);
    void this.pump(this.proc.stderr as ReadableStream<Uint8Array>);
    void this.proc.exited.then((c) => {
      this.exitCode = c;
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.exitCode === null;
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += dec.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const l of parts) {
        if (this.lines.length >= 2000) this.lines.shift();
        this.lines.push(l);
      }
    }
  }

  write(line: string): void {
    const stdin = this.proc.stdin as import("bun").FileSink | undefined;
    stdin?.write(`${line}\n`);
    stdin?.flush();
  }

  async waitLine(pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    return waitFor(
      () => this.lines.slice(from).find((l) => pattern.test(l)),
      timeoutMs,
      `${pattern} from pid ${this.pid}`,
    );
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, sig);
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const gone = await Promise.race([
      this.proc.exited.then(() => true),
      Bun.sleep(timeoutMs).then(() => false),
    ]);
    if (!gone) {
      this.signal("SIGKILL");
      await this.proc.exited;
    }
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.signal("SIGKILL");
    await this.proc.exited;
  }
}

export class Lab {
  private readonly procs: Proc[] = [];
  private readonly dirs: string[] = [];

  private constructor(
    readonly ns: string,
    readonly hostIf: string,
    readonly subnet: string,
    /** where the checking side lives: a namespace of its own, or null for the root namespace */
    readonly clientNs: string | null,
  ) {}

  /** `ip` on the checking side. */
  private ipClient(...args: string[]): string[] {
    return this.clientNs === null ? ["ip", ...args] : ["ip", "-n", this.clientNs, ...args];
  }

  get etcDir(): string {
    return `/etc/netns/${this.ns}`;
  }

  /** Host side of the veth: the checker's source address. */
  get hostIp(): string {
    return `${this.subnet}.1`;
  }

  /** A second host address, for source-address tests. */
  get hostIp2(): string {
    return `${this.subnet}.9`;
  }

  /** Addresses of real servers in the namespace: .2, .3, ... */
  serverIp(i: number): string {
    return `${this.subnet}.${2 + i}`;
  }

  /** IPv6: the checking side is ::1, real servers ::2, ::3, ... of a ULA /64 derived like the /24. */
  get hostIp6(): string {
    return `${this.subnet6}::1`;
  }

  serverIp6(i: number): string {
    return `${this.subnet6}::${2 + i}`;
  }

  private get subnet6(): string {
    return `fd51:0:0:${Number(this.subnet.split(".")[2]).toString(16)}`;
  }

  /**
   * Servers in `fhc-<tag><pid>`; the checking side in the root namespace, or with `clientNs` in
   * `fhc-<tag><pid>-c` (for processes run with spawnClient, e.g. a benchmark and keepalived).
   */
  static async create(tag: string, servers = 4, options: { clientNs?: boolean } = {}): Promise<Lab> {
    const id = `${tag}${process.pid % 100000}`;
    const clientNs = options.clientNs === true ? `fhc-${id}-c` : null;
    // a /24 per lab: the tag shifts it, so labs of one test process never share a subnet
    let octet = process.pid;
    for (const ch of tag) octet = (octet * 31 + ch.charCodeAt(0)) % 250;
    const lab = new Lab(`fhc-${id}`, `fhc${id}`.slice(0, 13) + "h", `10.251.${octet}`, clientNs);
    try {
      await sh(["ip", "netns", "add", lab.ns]);
      if (clientNs !== null) {
        await sh(["ip", "netns", "add", clientNs]);
        await sh(lab.ipClient("link", "set", "lo", "up"));
      }
      const peer = lab.hostIf.replace(/h$/, "n");
      await sh([
        "ip",
        "link",
        "add",
        lab.hostIf,
        ...(clientNs === null ? [] : ["netns", clientNs]),
        "type",
        "veth",
        "peer",
        "name",
        peer,
        "netns",
        lab.ns,
      ]);
      await sh(lab.ipClient("addr", "add", `${lab.hostIp}/24`, "dev", lab.hostIf));
      await sh(lab.ipClient("addr", "add", `${lab.hostIp2}/24`, "dev", lab.hostIf));
      await sh(lab.ipClient("addr", "add", `${lab.hostIp6}/64`, "dev", lab.hostIf, "nodad"));
      await sh(lab.ipClient("link", "set", lab.hostIf, "up"));
      await sh(["ip", "-n", lab.ns, "link", "set", "lo", "up"]);
      for (let i = 0; i < servers; i++) {
        await sh(["ip", "-n", lab.ns, "addr", "add", `${lab.serverIp(i)}/24`, "dev", peer]);
        await sh(["ip", "-n", lab.ns, "addr", "add", `${lab.serverIp6(i)}/64`, "dev", peer, "nodad"]);
      }
      await sh(["ip", "-n", lab.ns, "link", "set", peer, "up"]);
      // `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc: names of the two host addresses resolve
      // from a hosts file (so MariaDB's host cache is in play), and DNS asks nobody outside.
      mkdirSync(lab.etcDir, { recursive: true });
      writeFileSync(
        join(lab.etcDir, "hosts"),
        `127.0.0.1 localhost\n${lab.hostIp} lb1.fhc.test\n${lab.hostIp2} lb2.fhc.test\n`,
      );
      writeFileSync(join(lab.etcDir, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
      // Addresses are usable once DAD-free IPv4 says so: wait for the host route.
      await waitFor(
        async () => (await sh(lab.ipClient("-4", "addr", "show", "dev", lab.hostIf))).includes(lab.hostIp2),
        5000,
        "host veth address",
      );
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  tempDir(): string {
    const d = mkdtempSync(join(tmpdir(), "fhc-"));
    this.dirs.push(d);
    return d;
  }

  /** Any-IP: every address of `cidr` is local in the server namespace and routed there from the client. */
  async anyIp(cidr: string): Promise<void> {
    await sh(["ip", "-n", this.ns, "route", "add", "local", cidr, "dev", "lo"]);
    await sh(this.ipClient("route", "add", cidr, "via", this.serverIp(0)));
  }

  /** A process on the checking side (the client namespace, or the root namespace). */
  spawnClient(argv: string[], stdinPipe = false): Proc {
    const p = new Proc(
      this.clientNs === null ? argv : ["ip", "netns", "exec", this.clientNs, ...argv],
      stdinPipe,
    );
    this.procs.push(p);
    return p;
  }

  spawn(argv: string[], stdinPipe = false): Proc {
    const p = new Proc(["ip", "netns", "exec", this.ns, ...argv], stdinPipe);
    this.procs.push(p);
    return p;
  }

  async destroy(): Promise<void> {
    for (const p of this.procs) {
      try {
        await p.stop(5000);
      } catch {
        // already gone
      }
    }
    await sh(["ip", "netns", "del", this.ns], { allowFail: true });
    if (this.clientNs !== null) await sh(["ip", "netns", "del", this.clientNs], { allowFail: true });
    else await sh(["ip", "link", "del", this.hostIf], { allowFail: true });
    rmSync(this.etcDir, { recursive: true, force: true });
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export class HttpResponder {
  constructor(
    readonly proc: Proc,
    readonly address: string,
    readonly port: number,
  ) {}

  async setMode(mode: "ok" | "fail" | "slow" | "close"): Promise<void> {
    const from = this.proc.lines.length;
    this.proc.write(mode);
    await this.proc.waitLine(new RegExp(`^mode ${mode}$`), 5000, from);
  }
}

export async function startHttp(
  lab: Lab,
  address: string,
  port: number,
  tls?: { cert: string; key: string },
): Promise<HttpResponder> {
  const script = join(import.meta.dir, "responders-http.ts");
  const args = [BUN, script, address, String(port), ...(tls === undefined ? [] : [tls.cert, tls.key])];
  const proc = lab.spawn(args, true);
  await proc.waitLine(/^ready$/, 15_000);
  return new HttpResponder(proc, address, port);
}

/** A self-signed certificate for `name` (and the server's IP), made with openssl. */
export async function selfSignedCert(
  lab: Lab,
  name: string,
  ip: string,
): Promise<{ cert: string; key: string }> {
  const dir = lab.tempDir();
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await sh([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name},IP:${ip}`,
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  return { cert, key };
}

// ---------------------------------------------------------------------------------------------
// MariaDB (Debian's mariadb-server), its own datadir, bound to a namespace address

/** Where a MariaDB runs: a namespace that can spawn processes and hand out temp dirs (Lab, or the HA lab's). */
export type MariadbHost = Pick<Lab, "spawn" | "tempDir">;

export class Mariadb {
  constructor(
    public proc: Proc,
    readonly dir: string,
    readonly address: string,
    readonly port: number,
  ) {}

  get socket(): string {
    return join(this.dir, "mysqld.sock");
  }

  /** Runs SQL as root over the unix socket (socket connections do not touch the host cache). */
  async sql(query: string): Promise<string> {
    return (
      await sh(["mariadb", "--no-defaults", `--socket=${this.socket}`, "-uroot", "-N", "-B", "-e", query])
    ).trim();
  }

  /** Starts mariadbd again on the same datadir (after a kill) and waits until it answers. */
  async restart(lab: MariadbHost): Promise<void> {
    await this.proc.stop();
    this.proc = lab.spawn(["/usr/sbin/mariadbd", `--defaults-file=${join(this.dir, "my.cnf")}`]);
    await waitForMariadb(this);
  }

  async status(name: string): Promise<number> {
    const out = await this.sql(`SHOW GLOBAL STATUS LIKE '${name}'`);
    return Number(out.split("\t")[1]);
  }
}

export async function startMariadb(
  lab: MariadbHost,
  address: string,
  port = 3306,
  maxConnectErrors = 5,
  /** distinct per server of a replication pair; every server writes a binlog so it can be a primary */
  serverId = 1,
  /** what mariadbd listens on: `address` by default; "0.0.0.0" for a DR real server (the VIP is on lo) */
  bindAddress = address,
): Promise<Mariadb> {
  const dir = lab.tempDir();
  chownSync(dir, Number(await sh(["id", "-u", "mysql"])), Number(await sh(["id", "-g", "mysql"])));
  await sh([
    "mariadb-install-db",
    "--no-defaults",
    "--user=mysql",
    `--datadir=${join(dir, "data")}`,
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
  ]);
  const cnf = join(dir, "my.cnf");
  writeFileSync(
    cnf,
    [
      "[mariadbd]",
      `datadir=${join(dir, "data")}`,
      `socket=${join(dir, "mysqld.sock")}`,
      `pid-file=${join(dir, "mysqld.pid")}`,
      `bind-address=${bindAddress}`,
      `port=${port}`,
      "user=mysql",
      // No skip-name-resolve: client addresses resolve from the namespace's hosts file, so the host
      // cache, and with it max_connect_errors blocking, is in play as on a real database host.
      `server-id=${serverId}`,
      "log-bin=binlog",
      `max-connect-errors=${maxConnectErrors}`,
      "max-connections=200",
      "innodb-buffer-pool-size=16M",
      "performance-schema=OFF",
      "",
    ].join("\n"),
  );
  const proc = lab.spawn(["/usr/sbin/mariadbd", `--defaults-file=${cnf}`]);
  const db = new Mariadb(proc, dir, address, port);
  await waitForMariadb(db);
  return db;
}

async function waitForMariadb(db: Mariadb): Promise<void> {
  await waitFor(
    async () => {
      if (!db.proc.alive) throw new Error(`mariadbd exited: ${db.proc.lines.slice(-5).join(" | ")}`);
      const out = await sh(
        ["mariadb", "--no-defaults", `--socket=${db.socket}`, "-uroot", "-e", "SELECT 1"],
        {
          allowFail: true,
        },
      );
      return out.includes("1");
    },
    60_000,
    "mariadbd to accept connections",
  );
}

// ---------------------------------------------------------------------------------------------
// dnsmasq (Debian), authoritative-style answers for a test zone

export async function startDnsmasq(
  lab: Lab,
  addresses: string | readonly string[],
  records: Record<string, string>,
): Promise<Proc> {
  const all = typeof addresses === "string" ? [addresses] : addresses;
  const args = [
    "/usr/sbin/dnsmasq",
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    "--no-poll",
    "--bind-interfaces",
    `--listen-address=${all.join(",")}`,
    "--port=53",
    "--pid-file=",
    "--log-facility=-",
    ...Object.entries(records).map(([name, ip]) => `--host-record=${name},${ip}`),
    "--local=/test/",
  ];
  const proc = lab.spawn(args);
  await waitFor(
    async () => {
      if (!proc.alive) throw new Error(`dnsmasq exited: ${proc.lines.slice(-5).join(" | ")}`);
      const listening = await sh(["ip", "netns", "exec", lab.ns, "ss", "-lnu"], { allowFail: true });
      return all.every((a) => listening.includes(a.includes(":") ? `[${a}]:53` : `${a}:53`));
    },
    10_000,
    "dnsmasq to listen",
  );
  return proc;
}

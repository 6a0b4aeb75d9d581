// A bridge in its own namespace with routers and a client attached through veths, plus helpers to run
// the standalone VRRP runner (or keepalived) in them. Everything it creates is named fvr-<id>-* and is
// removed by destroy(), which tests call from afterAll/finally.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const isRoot = process.getuid?.() === 0;
const ROOT = new URL("../../", import.meta.url).pathname;
export const BUN = process.execPath;
const STANDALONE = join(ROOT, "src/vrrp/standalone.ts");

export function sh(cmd: readonly string[], opts: { allowFail?: boolean } = {}): string {
  const r = Bun.spawnSync({ cmd: [...cmd], stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  }
  return r.stdout.toString();
}

/**
 * How long a client's ARP/neighbour entry may take to follow a new master. Usually at once; but when two
 * routers announce within the client's locktime (1 s: a startup race or a heal on a busy machine) the client
 * keeps the first answer, and only the second round garp_master_delay (5 s, keepalived's default and ours)
 * later moves it.
 */
export const CLIENT_ARP_DEADLINE_MS = 5000 + 3000;

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs: number,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

export interface RunnerEvent {
  readonly event: string;
  readonly instance?: string;
  readonly from?: string;
  readonly to?: string;
  readonly reason?: string;
  readonly priority?: number;
  readonly at?: number;
  readonly t: number;
  readonly [k: string]: unknown;
}

/** A process whose stdout is JSON lines, collected as they come. */
export class Runner {
  readonly events: RunnerEvent[] = [];
  readonly stderr: string[] = [];
  exited = false;
  constructor(
    readonly name: string,
    readonly proc: ReturnType<typeof Bun.spawn>,
  ) {
    void this.pump(proc.stdout as ReadableStream<Uint8Array>, (line) => {
      try {
        if (this.events.length < 100_000) this.events.push(JSON.parse(line) as RunnerEvent);
      } catch {
        this.stderr.push(line);
      }
    });
    void this.pump(proc.stderr as ReadableStream<Uint8Array>, (line) => {
      if (this.stderr.length < 1000) this.stderr.push(line);
    });
    void proc.exited.then(() => {
      this.exited = true;
    });
  }

  private async pump(s: ReadableStream<Uint8Array>, onLine: (l: string) => void): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of s) {
      buf += dec.decode(chunk, { stream: true });
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    }
  }

  /** Current role of an instance, from the last state event. */
  role(instance = "vi"): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.event === "vrrp.state" && e.instance === instance) return e.to;
    }
    return undefined;
  }

  lastTransition(to: string, instance = "vi"): RunnerEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.event === "vrrp.state" && e.instance === instance && e.to === to) return e;
    }
    return undefined;
  }

  send(line: object): void {
    const stdin = this.proc.stdin;
    if (stdin && typeof stdin !== "number") {
      stdin.write(`${JSON.stringify(line)}\n`);
      stdin.flush();
    }
  }

  kill(signal: "SIGKILL" | "SIGTERM"): void {
    if (!this.exited) this.proc.kill(signal);
  }
}

export class Lab {
  readonly dir: string;
  readonly bridgeNs: string;
  private readonly namespaces: string[] = [];
  private readonly runners: Runner[] = [];
  private readonly pids: number[] = [];

  private constructor(readonly id: string) {
    this.dir = mkdtempSync(join(tmpdir(), `fvr-${id}-`));
    this.bridgeNs = `fvr-${id}-br`;
  }

  /** A bridge plus one namespace per name, each with eth0 = addr/24 on the bridge. */
  static create(hosts: Readonly<Record<string, string>>): Lab {
    const lab = new Lab(Math.random().toString(36).slice(2, 7));
    try {
      lab.addNs(lab.bridgeNs);
      sh(["ip", "-n", lab.bridgeNs, "link", "add", "br0", "type", "bridge"]);
      // No STP/forward delay: ports forward as soon as they are up.
      sh([
        "ip",
        "-n",
        lab.bridgeNs,
        "link",
        "set",
        "br0",
        "type",
        "bridge",
        "forward_delay",
        "0",
        "stp_state",
        "0",
      ]);
      sh(["ip", "-n", lab.bridgeNs, "link", "set", "br0", "up"]);
      let i = 0;
      for (const [name, addr] of Object.entries(hosts)) {
        const ns = lab.ns(name);
        lab.addNs(ns);
        const port = `fvr${lab.id}p${i++}`;
        sh(["ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
        sh(["ip", "link", "set", port, "netns", lab.bridgeNs]);
        sh(["ip", "-n", lab.bridgeNs, "link", "set", port, "master", "br0", "up"]);
        sh(["ip", "-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0"]);
        sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
        sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      }
    } catch (e) {
      lab.destroy();
      throw e;
    }
    return lab;
  }

  ns(name: string): string {
    return `fvr-${this.id}-${name}`;
  }

  private addNs(ns: string): void {
    sh(["ip", "netns", "add", ns]);
    this.namespaces.push(ns);
  }

  exec(name: string, cmd: readonly string[], opts: { allowFail?: boolean } = {}): string {
    return sh(["ip", "netns", "exec", this.ns(name), ...cmd], opts);
  }

  mac(name: string): string {
    return this.exec(name, ["cat", "/sys/class/net/eth0/address"]).trim();
  }

  hasAddress(name: string, ip: string): boolean {
    const j = JSON.parse(this.exec(name, ["ip", "-j", "addr", "show", "dev", "eth0"])) as Array<{
      addr_info: Array<{ local: string }>;
    }>;
    return j.some((l) => l.addr_info.some((a) => a.local === ip));
  }

  /** The client's neighbour entry for ip (lladdr), or undefined. */
  neigh(name: string, ip: string): string | undefined {
    const j = JSON.parse(this.exec(name, ["ip", "-j", "neigh", "show", ip, "dev", "eth0"])) as Array<{
      lladdr?: string;
    }>;
    return j[0]?.lladdr;
  }

  writeFile(name: string, text: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, text);
    return p;
  }

  /** Starts the standalone VRRP runner in a namespace with this spec. */
  startFulcrum(host: string, spec: object): Runner {
    const file = this.writeFile(`${host}-${this.runners.length}.json`, JSON.stringify(spec));
    const proc = Bun.spawn({
      cmd: ["ip", "netns", "exec", this.ns(host), BUN, STANDALONE, file],
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const r = new Runner(host, proc);
    this.runners.push(r);
    this.pids.push(proc.pid);
    return r;
  }

  /** Any other long-running process in a namespace (keepalived, probes); killed in destroy(). */
  spawn(host: string, cmd: readonly string[]): Runner {
    const proc = Bun.spawn({
      cmd: ["ip", "netns", "exec", this.ns(host), ...cmd],
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const r = new Runner(host, proc);
    this.runners.push(r);
    this.pids.push(proc.pid);
    return r;
  }

  /** Extra PIDs (e.g. keepalived's children from its pidfiles) to kill at teardown. */
  adoptPid(pid: number): void {
    this.pids.push(pid);
  }

  destroy(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const ns of [...this.namespaces].reverse()) sh(["ip", "netns", "del", ns], { allowFail: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// Reusable network-namespace fixture for tests that need a real kernel (root only).
//
//   const ns = createNetns("fxx-");          // unique name with your prefix
//   try { ns.ip("link", "add", ...); await ns.run(async () => { /* sockets opened here live in ns */ }); }
//   finally { ns.delete(); }                 // or: await withNetns("fxx-", async (ns) => { ... })
//
// Read-back goes through the real tools: ns.ipJson("addr") runs `ip -n NAME -j addr`.
// Namespaces still alive at process exit are deleted by an exit hook, so a crashed test leaves nothing.
import { closeSync, openSync } from "node:fs";
import { setnsNet } from "../../ffi/libc.ts";

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const live = new Set<string>();
let counter = 0;
let exitHookInstalled = false;

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function exec(argv: readonly string[], timeoutMs = 20_000): ExecResult {
  const p = Bun.spawnSync([...argv], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function mustExec(argv: readonly string[]): string {
  const r = exec(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const name of live) exec(["ip", "netns", "delete", name]);
  });
}

export class TestNetns {
  private deleted = false;

  constructor(readonly name: string) {}

  /** `ip -n NAME args...`; throws with ip's stderr on failure. */
  ip(...args: string[]): string {
    return mustExec(["ip", "-n", this.name, ...args]);
  }

  /** `ip -n NAME args...` returning the exit code and output instead of throwing. */
  tryIp(...args: string[]): ExecResult {
    return exec(["ip", "-n", this.name, ...args]);
  }

  /** `ip -n NAME -j args...` parsed. */
  ipJson<T = unknown>(...args: string[]): T {
    const out = this.ip("-j", ...args).trim();
    return (out === "" ? [] : JSON.parse(out)) as T;
  }

  /** Runs a command inside the namespace. */
  exec(...argv: string[]): ExecResult {
    return exec(["ip", "netns", "exec", this.name, ...argv]);
  }

  /** Reads /proc/sys/<path> as the namespace sees it, e.g. "net/ipv4/conf/eth0/arp_ignore". */
  sysctl(path: string): string {
    const r = this.exec("cat", `/proc/sys/${path}`);
    if (r.code !== 0) throw new Error(`reading ${path} in ${this.name}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /**
   * Runs fn with the calling (main JS) thread inside the namespace: sockets and synchronous /proc
   * access made during fn belong to it. Bun.file and fs.promises run on other threads and do NOT.
   * The thread is moved back afterwards, even when fn throws. Threads first created during fn (a
   * Worker, a lazily started pool thread) start in the namespace and stay there: keep fn to opening
   * sockets and synchronous work, and prefer `ip netns exec` for whole processes.
   */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const home = openSync("/proc/thread-self/ns/net", "r");
    const target = openSync(`/run/netns/${this.name}`, "r");
    try {
      setnsNet(target);
      try {
        return await fn();
      } finally {
        setnsNet(home);
      }
    } finally {
      closeSync(target);
      closeSync(home);
    }
  }

  /** Deletes the namespace (and with it every link inside). Idempotent. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    live.delete(this.name);
    exec(["ip", "netns", "delete", this.name]);
  }
}

/** Creates a namespace named prefix + a unique suffix. The prefix names the test family, e.g. "fnl-". */
export function createNetns(prefix: string): TestNetns {
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(prefix))
    throw new Error(`bad netns prefix ${JSON.stringify(prefix)}`);
  installExitHook();
  const name = `${prefix}${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 7)}`;
  mustExec(["ip", "netns", "add", name]);
  live.add(name);
  const ns = new TestNetns(name);
  try {
    ns.ip("link", "set", "lo", "up");
  } catch (err) {
    ns.delete();
    throw err;
  }
  return ns;
}

export async function withNetns<T>(prefix: string, fn: (ns: TestNetns) => Promise<T> | T): Promise<T> {
  const ns = createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    ns.delete();
  }
}

const kindSupport = new Map<string, boolean>();

/** Whether the running kernel can create links of this kind (e.g. "dummy", "vlan"), probed once. */
export function kernelSupportsLinkKind(kind: "dummy" | "vlan" | "macvlan" | "veth"): boolean {
  const known = kindSupport.get(kind);
  if (known !== undefined) return known;
  const ns = createNetns("fnl-probe-");
  try {
    let args: string[];
    if (kind === "veth") args = ["link", "add", "p0", "type", "veth", "peer", "name", "p1"];
    else if (kind === "dummy") args = ["link", "add", "p0", "type", "dummy"];
    else {
      ns.ip("link", "add", "base0", "type", "veth", "peer", "name", "base1");
      args = [
        "link",
        "add",
        "link",
        "base0",
        "name",
        "p0",
        "type",
        kind,
        ...(kind === "vlan" ? ["id", "7"] : []),
      ];
    }
    const ok = ns.tryIp(...args).code === 0;
    kindSupport.set(kind, ok);
    return ok;
  } finally {
    ns.delete();
  }
}

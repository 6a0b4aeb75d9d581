// The lab network, all inside network namespaces this harness creates (nothing touches the host's own
// interfaces, and no guest gets a route anywhere else):
//
//   <p>br : bridge br0 (front: VIPs, real servers, client) and br1 (management/sync)
//           taps tap-<g>0 / tap-<g>1 for each guest (QEMU runs inside <p>br to open them)
//   <p>rsN: real server N: eth0 on br0, a tiny HTTP server answering its name, prepared for DR/TUN/NAT
//   <p>cl : client: eth0 on br0
//   with farSide: br2, joined to br0 by the veth pair isl0/isl1 (the "inter-switch link"), holds the
//   front taps of the far-side guests and the client <p>cl2; taking isl0 down splits the front segment.
//
// Interface names live inside the namespaces, so only namespace names need the unique prefix.
import { describeFailure, exec } from "../src/system/exec.ts";
import { REPO_ROOT } from "./artifacts.ts";

export type ForwardingMethod = "dr" | "tun" | "nat";

export interface RealServerSpec {
  readonly name: string; // "rs1"
  readonly address: string; // "10.0.1.11/24"
  readonly method: ForwardingMethod;
  readonly vip: string; // "10.0.1.100"
  /** NAT: the director-side gateway the real server routes its replies through. */
  readonly gateway?: string;
  readonly port?: number;
  /** Start the lab's HTTP server (qemu/real-server.ts) in it (default true; false for other services). */
  readonly http?: boolean;
}

export interface LabSpec {
  /** Namespace name prefix, e.g. "flab-lab-" or "flab-t1-". */
  readonly prefix: string;
  /** Short guest ids ("a", "b"): each gets tap-<id>0 on br0 and tap-<id>1 on br1. */
  readonly guests: readonly string[];
  readonly realServers: readonly RealServerSpec[];
  readonly client: { readonly address: string };
  /** Guests (front NIC) and a second client behind an inter-switch link that can be taken down. */
  readonly farSide?: { readonly guests: readonly string[]; readonly client: { readonly address: string } };
}

const BUN = `${REPO_ROOT}/node_modules/.bin/bun`;

async function sh(argv: readonly string[], timeoutMs = 15_000): Promise<string> {
  const r = await exec(argv, { timeoutMs });
  if (r.code !== 0) throw new Error(describeFailure(r));
  return r.stdout;
}

export async function listNetns(): Promise<string[]> {
  const out = await sh(["ip", "netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n !== "");
}

/** Removes namespaces left by an earlier run with this prefix, killing what still runs in them. */
export async function removeNamespaces(prefix: string): Promise<void> {
  if (!/^flab-[a-z0-9-]*$/.test(prefix))
    throw new Error(`refusing to clean namespaces with prefix '${prefix}'`);
  for (const ns of await listNetns()) {
    if (!ns.startsWith(prefix)) continue;
    const pids = (await exec(["ip", "netns", "pids", ns], { timeoutMs: 5_000 })).stdout
      .split("\n")
      .filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone
      }
    }
    await exec(["ip", "netns", "del", ns], { timeoutMs: 10_000 });
  }
}

export class LabNetwork {
  private readonly servers = new Map<string, ReturnType<typeof Bun.spawn>>();

  private constructor(readonly spec: LabSpec) {}

  get bridgeNs(): string {
    return `${this.spec.prefix}br`;
  }
  get clientNs(): string {
    return `${this.spec.prefix}cl`;
  }
  /** The far-side client (only with spec.farSide). */
  get farClientNs(): string {
    return `${this.spec.prefix}cl2`;
  }
  serverNs(name: string): string {
    return `${this.spec.prefix}${name}`;
  }
  tap(guest: string, nic: 0 | 1): string {
    return `tap-${guest}${nic}`;
  }
  namespaces(): string[] {
    return [
      this.bridgeNs,
      this.clientNs,
      ...(this.spec.farSide ? [this.farClientNs] : []),
      ...this.spec.realServers.map((r) => this.serverNs(r.name)),
    ];
  }

  /** Brings the whole topology up; on any failure tears down what was made and rethrows. */
  static async up(spec: LabSpec): Promise<LabNetwork> {
    await removeNamespaces(spec.prefix);
    const net = new LabNetwork(spec);
    try {
      await net.build();
    } catch (err) {
      await net.down();
      throw err;
    }
    return net;
  }

  private async build(): Promise<void> {
    const br = this.bridgeNs;
    for (const ns of this.namespaces()) {
      await sh(["ip", "netns", "add", ns]);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const far = this.spec.farSide;
    for (const bridge of far ? ["br0", "br1", "br2"] : ["br0", "br1"]) {
      await sh([
        "ip",
        "-n",
        br,
        "link",
        "add",
        bridge,
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
      ]);
      await sh(["ip", "-n", br, "link", "set", bridge, "up"]);
    }
    for (const g of this.spec.guests) {
      for (const nic of [0, 1] as const) {
        const tap = this.tap(g, nic);
        await sh(["ip", "-n", br, "tuntap", "add", tap, "mode", "tap"]);
        const bridge = nic === 0 && far?.guests.includes(g) ? "br2" : `br${nic}`;
        await sh(["ip", "-n", br, "link", "set", tap, "master", bridge, "up"]);
      }
    }
    await this.attach(this.clientNs, "vcl", this.spec.client.address);
    if (far) {
      await sh(["ip", "-n", br, "link", "add", "isl0", "type", "veth", "peer", "name", "isl1"]);
      await sh(["ip", "-n", br, "link", "set", "isl0", "master", "br0", "up"]);
      await sh(["ip", "-n", br, "link", "set", "isl1", "master", "br2", "up"]);
      await this.attach(this.farClientNs, "vcl2", far.client.address, "br2");
    }
    for (const rs of this.spec.realServers) {
      const ns = this.serverNs(rs.name);
      await this.attach(ns, `v${rs.name}`, rs.address);
      await prepareRealServer(ns, rs);
      if (rs.http ?? true) await this.startHttpServer(rs.name);
    }
  }

  /** Starts (again) the HTTP server of real server `name`; resolves once it listens. */
  async startHttpServer(name: string): Promise<void> {
    const rs = this.spec.realServers.find((r) => r.name === name);
    if (rs === undefined) throw new Error(`no real server ${name}`);
    if (this.servers.has(name)) throw new Error(`real server ${name} already runs`);
    const proc = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        this.serverNs(name),
        BUN,
        `${REPO_ROOT}/qemu/real-server.ts`,
        name,
        String(rs.port ?? 80),
      ],
      { stdin: "ignore", stdout: "pipe", stderr: "inherit" },
    );
    this.servers.set(name, proc);
    await waitForLine(proc.stdout, /listening/, 15_000, `real server ${name}`);
  }

  hasHttpServer(name: string): boolean {
    return this.servers.has(name);
  }

  /** SIGKILLs the HTTP server of real server `name` (its namespace and addresses stay). */
  async killHttpServer(name: string): Promise<void> {
    const proc = this.servers.get(name);
    if (proc === undefined) throw new Error(`real server ${name} has no running HTTP server`);
    this.servers.delete(name);
    proc.kill("SIGKILL");
    await proc.exited;
  }

  /** Takes the inter-switch link between br0 and the far side down (a split) or up (a heal). */
  async setInterSwitchLink(up: boolean): Promise<void> {
    if (!this.spec.farSide) throw new Error("this lab has no far side");
    await sh(["ip", "-n", this.bridgeNs, "link", "set", "isl0", up ? "up" : "down"]);
  }

  /** A veth from `bridge` (bridge side named `hostSide`) to eth0 inside `ns`, with `address`. */
  private async attach(ns: string, hostSide: string, address: string, bridge = "br0"): Promise<void> {
    await sh([
      "ip",
      "-n",
      this.bridgeNs,
      "link",
      "add",
      hostSide,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      ns,
    ]);
    await sh(["ip", "-n", this.bridgeNs, "link", "set", hostSide, "master", bridge, "up"]);
    await sh(["ip", "-n", ns, "addr", "add", address, "dev", "eth0"]);
    await sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
  }

  /** Runs a command inside one of the lab's namespaces. */
  exec(ns: string, argv: readonly string[], timeoutMs = 15_000) {
    return exec(["ip", "netns", "exec", ns, ...argv], { timeoutMs });
  }

  /** Stops the real servers and deletes every namespace (taps and veths go with them). Idempotent. */
  async down(): Promise<void> {
    const servers = [...this.servers.values()];
    for (const p of servers) p.kill("SIGKILL");
    await Promise.all(servers.map((p) => Promise.race([p.exited, Bun.sleep(3_000)])));
    this.servers.clear();
    await removeNamespaces(this.spec.prefix);
  }
}

/** DR: VIP on lo, no ARP for it. TUN: ipip decapsulation with the VIP. NAT: replies go via the director. */
export async function prepareRealServer(ns: string, rs: RealServerSpec): Promise<void> {
  const sysctl = (kv: string) => sh(["ip", "netns", "exec", ns, "sysctl", "-qw", kv]);
  switch (rs.method) {
    case "dr":
      await sh(["ip", "-n", ns, "addr", "add", `${rs.vip}/32`, "dev", "lo"]);
      for (const dev of ["all", "eth0"]) {
        await sysctl(`net.ipv4.conf.${dev}.arp_ignore=1`);
        await sysctl(`net.ipv4.conf.${dev}.arp_announce=2`);
      }
      break;
    case "tun":
      await sh(["modprobe", "ipip"]);
      await sh(["ip", "-n", ns, "link", "set", "tunl0", "up"]);
      await sh(["ip", "-n", ns, "addr", "add", `${rs.vip}/32`, "dev", "tunl0"]);
      for (const dev of ["all", "tunl0", "eth0"]) {
        await sysctl(`net.ipv4.conf.${dev}.rp_filter=0`);
        await sysctl(`net.ipv4.conf.${dev}.arp_ignore=1`);
        await sysctl(`net.ipv4.conf.${dev}.arp_announce=2`);
      }
      break;
    case "nat":
      if (rs.gateway === undefined) throw new Error(`NAT real server ${rs.name} needs a gateway`);
      await sh(["ip", "-n", ns, "route", "add", "default", "via", rs.gateway]);
      break;
  }
}

async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  re: RegExp,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const reader = stream.getReader();
  let text = "";
  const deadline = Bun.sleep(timeoutMs).then(() => "timeout" as const);
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), deadline]);
      if (r === "timeout") throw new Error(`${what} did not start within ${timeoutMs} ms: ${text}`);
      if (r.done) throw new Error(`${what} exited: ${text}`);
      text += new TextDecoder().decode(r.value);
      if (re.test(text)) return;
    }
  } finally {
    reader.releaseLock();
  }
}

// The two-box DR lab: the network of qemu/topology.ts plus appliance guests, each handed its config
// through fw_cfg (qemu/lab/dr-a.toml, dr-b.toml). stop() always tears everything down.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ImageArtifacts } from "./artifacts.ts";
import { REPO_ROOT } from "./artifacts.ts";
import { Guest, macFor, qemuPidsNamed } from "./guest.ts";
import { LabNetwork, type LabSpec, listNetns, type RealServerSpec, removeNamespaces } from "./topology.ts";

export interface LabGuestSpec {
  readonly id: string; // "a"
  readonly config: string; // TOML path
  /** Front address the config gives eth0 (checked, and set by the harness if fulcrum has not yet). */
  readonly front: string;
  readonly mgmt: string;
}

export interface LabOptions {
  readonly prefix: string;
  readonly image: ImageArtifacts;
  readonly boot: "direct" | "uefi";
  readonly guests: readonly LabGuestSpec[];
  readonly realServers: readonly RealServerSpec[];
  readonly client: { readonly address: string };
  /** Guests (front NIC) and a second client behind an inter-switch link (see qemu/topology.ts). */
  readonly farSide?: LabSpec["farSide"];
  /** vCPUs per guest (default 1). */
  readonly smp?: number;
  readonly workRoot?: string;
  readonly log?: (line: string) => void;
}

export const VIP = "10.0.1.100";

/** The example two-box DR cluster: guests A and B, three DR real servers, one client. */
export function drLabOptions(
  prefix: string,
  image: ImageArtifacts,
  boot: "direct" | "uefi" = "direct",
): LabOptions {
  return {
    prefix,
    image,
    boot,
    guests: [
      { id: "a", config: join(REPO_ROOT, "qemu/lab/dr-a.toml"), front: "10.0.1.2/24", mgmt: "10.0.9.11/24" },
      { id: "b", config: join(REPO_ROOT, "qemu/lab/dr-b.toml"), front: "10.0.1.3/24", mgmt: "10.0.9.12/24" },
    ],
    realServers: [1, 2, 3].map((n) => ({
      name: `rs${n}`,
      address: `10.0.1.1${n}/24`,
      method: "dr" as const,
      vip: VIP,
    })),
    client: { address: "10.0.1.50/24" },
  };
}

export class Lab {
  readonly guests = new Map<string, Guest>();
  private net: LabNetwork | undefined;
  private stopped = false;

  private constructor(readonly options: LabOptions) {}

  get network(): LabNetwork {
    if (this.net === undefined) throw new Error("lab network is not up");
    return this.net;
  }

  guest(id: string): Guest {
    const g = this.guests.get(id);
    if (g === undefined) throw new Error(`no guest ${id}`);
    return g;
  }

  private get workRoot(): string {
    return this.options.workRoot ?? join("/run", `${this.options.prefix}work`);
  }

  /** Network, then all guests at once; resolves when every guest says "fulcrum ready". */
  static async start(options: LabOptions, readyTimeoutMs = 180_000): Promise<Lab> {
    const lab = new Lab(options);
    const log = options.log ?? (() => {});
    try {
      const spec: LabSpec = {
        prefix: options.prefix,
        guests: options.guests.map((g) => g.id),
        realServers: options.realServers,
        client: options.client,
        ...(options.farSide === undefined ? {} : { farSide: options.farSide }),
      };
      lab.net = await LabNetwork.up(spec);
      log(`network up: ${lab.net.namespaces().join(", ")}`);
      for (const g of options.guests) await lab.startGuest(g.id);
      await Promise.all(
        [...lab.guests.entries()].map(async ([id, g]) => {
          const ms = await g.waitReady(readyTimeoutMs);
          log(`guest ${id}: fulcrum ready after ${(ms / 1000).toFixed(1)} s`);
        }),
      );
    } catch (err) {
      await lab.stop();
      throw err;
    }
    return lab;
  }

  /**
   * Starts QEMU for guest `id` on its taps; returns at once (waitReady follows). With `reuseDisk` it boots
   * the disk its previous run left (a reboot: the data partition stays); `config` replaces the config
   * handed over fw_cfg (seeded only on a fresh disk).
   */
  async startGuest(id: string, opts: { readonly reuseDisk?: boolean; readonly config?: string } = {}) {
    const index = this.options.guests.findIndex((g) => g.id === id);
    const spec = this.options.guests[index];
    if (spec === undefined) throw new Error(`no guest ${id} in this lab`);
    if (this.guests.has(id)) throw new Error(`guest ${id} already runs`);
    const guest = await Guest.start({
      name: `${this.options.prefix}${id}`,
      image: this.options.image,
      boot: this.options.boot,
      workDir: join(this.workRoot, id),
      netns: this.network.bridgeNs,
      configFile: opts.config ?? spec.config,
      ...(this.options.smp === undefined ? {} : { smp: this.options.smp }),
      ...(opts.reuseDisk === true ? { reuseDisk: true } : {}),
      nics: [0, 1].map((nic) => ({
        netdev: `tap,ifname=${this.network.tap(id, nic as 0 | 1)},script=no,downscript=no`,
        mac: macFor(index + 1, nic),
      })),
    });
    this.guests.set(id, guest);
    this.options.log?.(
      `guest ${id}: qemu started (${this.options.boot} boot), serial log ${guest.serial.path}`,
    );
    return guest;
  }

  /** SIGKILLs guest `id`'s QEMU (a box losing power); its disk stays for startGuest(id, { reuseDisk }). */
  async killGuest(id: string): Promise<void> {
    const guest = this.guest(id);
    this.guests.delete(id);
    await guest.kill();
  }

  /** Forgets a guest whose QEMU has already gone (e.g. after QMP quit), once it has exited. */
  async forgetGuest(id: string): Promise<void> {
    const guest = this.guest(id);
    await Promise.race([guest.exited, Bun.sleep(10_000)]);
    this.guests.delete(id);
    await guest.kill();
  }

  /**
   * Makes sure each guest's NICs carry the addresses its config names. fulcrum's interface reconciler
   * does this once it is wired into `fulcrum run`; until then the lab sets them through the debug
   * shell and says so. Returns, per guest, who configured eth0.
   */
  async ensureAddresses(): Promise<Map<string, "fulcrum" | "harness">> {
    const who = new Map<string, "fulcrum" | "harness">();
    for (const g of this.options.guests) {
      const shell = this.guest(g.id).shell;
      const front = g.front.split("/")[0] ?? "";
      const has = await shell.run(`ip -4 -o addr show dev eth0 | grep -q ' ${front}/'`);
      if (has.code === 0) {
        who.set(g.id, "fulcrum");
        continue;
      }
      await shell.check(
        `ip link set eth0 up && ip link set eth1 up && ip addr replace ${g.front} dev eth0 && ip addr replace ${g.mgmt} dev eth1`,
      );
      who.set(g.id, "harness");
    }
    return who;
  }

  /** Kills every guest, tears the network down and removes work files. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.guests.values()].map((g) => g.kill()));
    // Anything with our prefix that survived (e.g. a guest whose start raced the failure).
    for (const pid of qemuPidsNamed(this.options.prefix)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await this.net?.down();
    rmSync(this.workRoot, { recursive: true, force: true });
  }
}

/** What a lab with `prefix` left behind: namespaces and QEMU processes (taps live in the namespaces). */
export async function leftovers(prefix: string): Promise<{ netns: string[]; qemu: number[] }> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const netns = (await listNetns()).filter((n) => n.startsWith(prefix));
    const qemu = qemuPidsNamed(prefix);
    if ((netns.length === 0 && qemu.length === 0) || performance.now() > deadline) return { netns, qemu };
    await Bun.sleep(100);
  }
}

/**
 * Last-resort cleanup for a prefix, for when a Lab object never finished starting (interrupted, or a
 * hook timed out): kills QEMU processes named with the prefix and removes its namespaces and work dir.
 */
export async function sweepLab(prefix: string): Promise<void> {
  for (const pid of qemuPidsNamed(prefix)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await removeNamespaces(prefix);
  rmSync(join("/run", `${prefix}work`), { recursive: true, force: true });
}

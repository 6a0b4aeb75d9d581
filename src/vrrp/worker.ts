// The VRRP Worker: owns the raw sockets, the core's state and its timers, so a busy main thread cannot
// delay an advertisement. It blocks in poll() on its sockets plus an eventfd the main thread signals
// after posting a command, runs the pure core, and performs its actions (send, VIPs, GARP/NA, events).
import { readFileSync } from "node:fs";
import { POLL } from "../../ffi/constants.ts";
import { eventfdDrain, poll } from "../../ffi/libc.ts";
import {
  closeSocket,
  openPacketSocket,
  openVrrpSocket,
  type PacketSocket,
  recvVrrp,
  sendFrame,
  sendVrrp,
  type VrrpSocket,
} from "../../ffi/rawsock.ts";
import { setCurrentThreadRealtime } from "../../ffi/sched.ts";
import { formatIP, parseIP } from "./addr.ts";
import { gratuitousArp, parseMac, unsolicitedNa } from "./announce.ts";
import { encodeAdvert } from "./codec.ts";
import { type CoreState, describe, initialState, step } from "./core.ts";
import { readLinkUp } from "./link.ts";
import type { WorkerCommand, WorkerInit, WorkerReport, WorkerStats } from "./protocol.ts";
import { newDropCounters, ReceiveTable, receiveIpv4, receivePayload } from "./receive.ts";
import { trackKeyInterface } from "./spec.ts";
import type { CoreAction, CoreInput, VrrpInstanceSpec } from "./types.ts";
import { VRRP_GROUP_V4, VRRP_GROUP_V6 } from "./types.ts";
import { createVipDriver, type VipDriver } from "./vips.ts";
import { deleteVmacs, ensureVmacs } from "./vmac.ts";

declare const self: Worker;

const MAX_DATAGRAMS_PER_WAKE = 256;
const MAX_QUEUED_COMMANDS = 1024;
/** Bounded wait for posted commands per loop turn; the rest arrive on the next turn. */
const MAX_YIELDS_FOR_COMMANDS = 50;
const MAX_PENDING_BURSTS = 256;
const LATENESS_WINDOW = 4096;
const STATS_EVERY_MS = 1000;
/** Upper bound on one poll() so link polling and command checks keep running. */
const MAX_POLL_MS = 1000;

interface Burst {
  readonly sock: PacketSocket;
  readonly frames: readonly Uint8Array[];
  remaining: number;
  nextAt: number;
  readonly intervalMs: number;
}

const report = (r: WorkerReport) => self.postMessage(r);
const now = () => performance.now();

class VrrpWorker {
  private core: CoreState;
  private wakeAt = Number.POSITIVE_INFINITY;
  private readonly table: ReceiveTable;
  private readonly vrrpSockets: { sock: VrrpSocket; ifname: string }[] = [];
  private readonly packetSockets = new Map<string, PacketSocket>();
  private readonly macs = new Map<string, Uint8Array>();
  private readonly specs = new Map<string, VrrpInstanceSpec>();
  private readonly bursts: Burst[] = [];
  private readonly commands: WorkerCommand[] = [];
  private readonly lateness: number[] = [];
  private readonly linkState = new Map<string, boolean>();
  private stats = {
    received: 0,
    accepted: 0,
    sent: 0,
    sendErrors: 0,
    recvErrors: 0,
    vipErrors: 0,
    drops: newDropCounters(),
  };
  private stopping = false;
  private nextLinkPollAt = 0;
  private nextStatsAt = 0;
  private readonly buf = new Uint8Array(4608);
  private readonly posted: Int32Array;
  private readonly pendingActions: CoreAction[] = [];
  /** Loop turns in a row that woke for a socket but got nothing from it (an error storm guard). */
  private emptyWakes = 0;

  constructor(
    private readonly init: WorkerInit,
    private readonly vips: VipDriver,
  ) {
    this.core = initialState(init.specs, init.groups);
    this.posted = new Int32Array(init.posted);
    this.table = new ReceiveTable(init.specs);
    for (const s of init.specs) this.specs.set(s.name, s);
    const keys = new Set<string>();
    for (const s of init.specs) {
      const key = `${s.interface}/${s.family}`;
      if (!keys.has(key)) {
        keys.add(key);
        const multicast = init.specs.some(
          (o) => o.interface === s.interface && o.family === s.family && o.unicastPeers.length === 0,
        );
        this.vrrpSockets.push({
          sock: openVrrpSocket(s.interface, s.family, multicast),
          ifname: s.interface,
        });
      }
      for (const dev of new Set([s.interface, ...s.virtualAddressDevs])) {
        if (this.packetSockets.has(dev)) continue;
        this.packetSockets.set(dev, openPacketSocket(dev));
        this.macs.set(dev, parseMac(readMac(dev)));
      }
    }
  }

  enqueue(c: WorkerCommand): void {
    if (this.commands.length < MAX_QUEUED_COMMANDS) this.commands.push(c);
  }

  /**
   * The loop blocks in poll(), so posted messages are only delivered when it yields. The eventfd says
   * that one was posted; the shared counter says how many, so none is left undelivered until a later wake.
   */
  private async receiveCommands(): Promise<void> {
    for (let i = 0; i < MAX_YIELDS_FOR_COMMANDS && Atomics.load(this.posted, 0) > receivedCommands; i++) {
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  private feed(input: CoreInput): void {
    const res = step(this.core, input, now());
    this.core = res.state;
    this.wakeAt = res.wakeAtMs;
    this.pendingActions.push(...res.actions);
  }

  async run(): Promise<void> {
    if (this.init.realtimePriority !== null) {
      try {
        setCurrentThreadRealtime(this.init.realtimePriority);
        report({
          kind: "log",
          level: "info",
          msg: `vrrp worker runs SCHED_RR ${this.init.realtimePriority}`,
        });
      } catch (e) {
        report({
          kind: "log",
          level: "warn",
          msg: "vrrp worker stays on the default scheduler",
          data: String(e),
        });
      }
    }
    this.pollLinks(true);
    this.feed({ kind: "start", resume: this.init.resume });
    await this.performActions();
    report({ kind: "ready" });
    const wanted = [
      ...this.vrrpSockets.map((s) => ({ fd: s.sock.fd, events: POLL.IN })),
      { fd: this.init.wakeFd, events: POLL.IN },
    ];
    while (!this.stopping) {
      const t = now();
      let until = Math.min(this.wakeAt, this.nextLinkPollAt, this.nextStatsAt, t + MAX_POLL_MS);
      for (const b of this.bursts) until = Math.min(until, b.nextAt);
      const timeout = Math.max(0, Math.ceil(until - t));
      const pending = this.commands.length > 0 || Atomics.load(this.posted, 0) > receivedCommands;
      const due = this.wakeAt;
      const revents = poll(wanted, pending ? 0 : timeout);
      const wokeByMain = (revents[revents.length - 1] ?? 0) !== 0;
      if (wokeByMain) eventfdDrain(this.init.wakeFd);
      let got = 0;
      let woke = false;
      for (let i = 0; i < this.vrrpSockets.length; i++) {
        if (!revents[i]) continue;
        woke = true;
        got += this.drain(this.vrrpSockets[i]!);
      }
      // A socket that keeps reporting readiness without data (an error condition the kernel does not
      // clear) must not spin this real-time thread: back off 1 ms after 100 such turns in a row.
      this.emptyWakes = woke && got === 0 ? this.emptyWakes + 1 : 0;
      if (this.emptyWakes > 100) Bun.sleepSync(1);
      const t2 = now();
      if (t2 >= due) {
        this.lateness.push(t2 - due);
        if (this.lateness.length > LATENESS_WINDOW) this.lateness.shift();
      }
      if (t2 >= this.wakeAt) this.feed({ kind: "tick" });
      if (t2 >= this.nextLinkPollAt) this.pollLinks(false);
      await this.performActions();
      this.runBursts();
      if (t2 >= this.nextStatsAt) {
        this.nextStatsAt = t2 + STATS_EVERY_MS;
        report({ kind: "stats", stats: this.snapshot() });
      }
      await this.receiveCommands();
      while (this.commands.length) await this.command(this.commands.shift()!);
    }
  }

  /** Reads what the socket has (bounded per wake); returns how many datagrams came. */
  private drain(entry: { sock: VrrpSocket; ifname: string }): number {
    let n = 0;
    for (let i = 0; i < MAX_DATAGRAMS_PER_WAKE; i++) {
      let d: ReturnType<typeof recvVrrp>;
      try {
        d = recvVrrp(entry.sock, this.buf);
      } catch {
        this.stats.recvErrors++; // e.g. an ICMP error queued on the socket by a unicast send
        return n;
      }
      if (d === null) return n;
      n++;
      this.stats.received++;
      if (d.truncated) {
        this.stats.drops.length++;
        continue;
      }
      const r =
        entry.sock.family === 4
          ? receiveIpv4(d.bytes, entry.ifname, this.table)
          : d.source && d.destination
            ? receivePayload(
                6,
                entry.ifname,
                formatIP(d.source, 6),
                formatIP(d.destination, 6),
                d.hopLimit ?? -1,
                d.bytes,
                this.table,
              )
            : ({ ok: false, reason: "ip_header" } as const);
      if (!r.ok) {
        this.stats.drops[r.reason]++;
        continue;
      }
      this.stats.accepted++;
      this.feed({ kind: "packet", instance: r.instance, advert: r.advert });
    }
    return n;
  }

  private async command(c: WorkerCommand): Promise<void> {
    switch (c.kind) {
      case "track":
        this.feed({ kind: "track", key: c.key, up: c.up });
        break;
      case "admin":
        this.feed({
          kind: "admin",
          instance: c.instance,
          ...(c.priority !== undefined ? { priority: c.priority } : {}),
          ...(c.resign ? { resign: true } : {}),
        });
        break;
      case "stats":
        report({ kind: "stats", stats: this.snapshot() });
        break;
      case "stop":
        this.feed({ kind: "shutdown" });
        this.stopping = true;
        break;
      case "init":
        break;
    }
    await this.performActions();
  }

  private pollLinks(initial: boolean): void {
    this.nextLinkPollAt = now() + this.init.linkPollMs;
    const names = new Set<string>();
    for (const s of this.init.specs) {
      for (const t of s.tracks) if (t.key.startsWith("if:")) names.add(t.key.slice(3));
    }
    for (const ifname of names) {
      const up = readLinkUp(ifname);
      if (!initial && this.linkState.get(ifname) === up) continue;
      this.linkState.set(ifname, up);
      this.feed({ kind: "track", key: trackKeyInterface(ifname), up });
    }
  }

  private async performActions(): Promise<void> {
    while (this.pendingActions.length) {
      const a = this.pendingActions.shift()!;
      try {
        await this.perform(a);
      } catch (e) {
        report({ kind: "log", level: "error", msg: `vrrp action ${a.kind} failed`, data: String(e) });
      }
    }
  }

  private async perform(a: CoreAction): Promise<void> {
    switch (a.kind) {
      case "send": {
        const s = this.specs.get(a.instance)!;
        const entry = this.vrrpSockets.find((e) => e.ifname === s.interface && e.sock.family === s.family)!;
        const src = parseIP(s.primaryAddress);
        const dests = s.unicastPeers.length
          ? s.unicastPeers
          : [s.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6];
        for (const dst of dests) {
          const msg = encodeAdvert(a.advert, s.primaryAddress, dst, s.checksum);
          try {
            if (sendVrrp(entry.sock, msg, src, parseIP(dst))) this.stats.sent++;
            else this.stats.sendErrors++;
          } catch {
            this.stats.sendErrors++;
          }
        }
        return;
      }
      case "addVip":
      case "delVip":
        for (const cidr of a.cidrs) {
          try {
            if (a.kind === "addVip") await this.vips.add(a.interface, cidr);
            else await this.vips.del(a.interface, cidr);
          } catch (e) {
            this.stats.vipErrors++;
            report({
              kind: "log",
              level: "error",
              msg: `${a.kind} ${cidr} on ${a.interface} failed`,
              data: String(e),
            });
          }
        }
        return;
      case "garp": {
        const s = this.specs.get(a.instance)!;
        const sock = this.packetSockets.get(a.interface);
        const mac = this.macs.get(a.interface);
        if (!sock || !mac || a.count <= 0) return;
        const frames = a.addresses.map((ip) =>
          s.family === 4
            ? gratuitousArp(mac, parseIP(ip))
            : unsolicitedNa(mac, parseIP(s.primaryAddress), parseIP(ip)),
        );
        // A new burst for the same frames replaces the old one (bounded, no pile-up on flapping).
        const existing = this.bursts.findIndex((b) => b.sock === sock && sameFrames(b.frames, frames));
        if (existing >= 0) this.bursts.splice(existing, 1);
        if (this.bursts.length >= MAX_PENDING_BURSTS) this.bursts.shift();
        this.bursts.push({ sock, frames, remaining: a.count, nextAt: now(), intervalMs: a.intervalMs });
        this.runBursts();
        return;
      }
      case "event":
        report({ kind: "event", change: a.change, atMs: Date.now() });
        return;
    }
  }

  private runBursts(): void {
    const t = now();
    for (let i = this.bursts.length - 1; i >= 0; i--) {
      const b = this.bursts[i]!;
      // interval 0: the whole burst at once, as keepalived does without garp_interval.
      while (b.remaining > 0 && b.nextAt <= t) {
        for (const f of b.frames) {
          try {
            sendFrame(b.sock, f);
          } catch {
            this.stats.sendErrors++;
          }
        }
        b.remaining--;
        b.nextAt = b.intervalMs > 0 ? t + b.intervalMs : b.nextAt;
        if (b.intervalMs > 0) break;
      }
      if (b.remaining <= 0) this.bursts.splice(i, 1);
    }
  }

  snapshot(): WorkerStats {
    const sorted = [...this.lateness].sort((x, y) => x - y);
    const pct = (p: number) =>
      sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0;
    return {
      received: this.stats.received,
      accepted: this.stats.accepted,
      sent: this.stats.sent,
      sendErrors: this.stats.sendErrors,
      recvErrors: this.stats.recvErrors,
      vipErrors: this.stats.vipErrors,
      drops: { ...this.stats.drops },
      advertLatenessMs: { p50: pct(0.5), p99: pct(0.99), max: sorted.at(-1) ?? 0, n: sorted.length },
      instances: describe(this.core),
    };
  }

  /** After a failure: never leave VIPs that nobody advertises any more (a backup will take over). */
  async releaseVips(): Promise<void> {
    for (const s of this.init.specs) {
      for (let k = 0; k < s.virtualAddresses.length; k++) {
        await this.vips.del(s.virtualAddressDevs[k] ?? s.interface, s.virtualAddresses[k]!).catch(() => {});
      }
    }
  }

  close(): void {
    for (const e of this.vrrpSockets) closeSocket(e.sock.fd);
    for (const p of this.packetSockets.values()) closeSocket(p.fd);
  }
}

function sameFrames(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return (
    a.length === b.length && a.every((f, i) => f.length === b[i]!.length && f.every((x, j) => x === b[i]![j]))
  );
}

function readMac(ifname: string): string {
  return readFileSync(`/sys/class/net/${ifname}/address`, "utf8");
}

let worker: VrrpWorker | null = null;
/** Commands received from the main thread, kept or not (compared with its `posted` counter). */
let receivedCommands = 0;
const early: WorkerCommand[] = [];
self.onmessage = (e: MessageEvent<WorkerCommand>) => {
  const c = e.data;
  if (c.kind !== "init") {
    receivedCommands++;
    // Before the Worker is built (VMACs, netlink) commands wait here, so the posted/received counts agree.
    if (worker) worker.enqueue(c);
    else if (early.length < 1024) early.push(c);
    return;
  }
  if (worker) return;
  void (async () => {
    let vips: VipDriver | null = null;
    let vmacs: string[] = [];
    try {
      // VMAC interfaces first: the Worker opens packet sockets on them.
      vmacs = await ensureVmacs(c.specs);
      vips = await createVipDriver();
      worker = new VrrpWorker(c, vips);
      for (const cmd of early.splice(0)) worker.enqueue(cmd);
      await worker.run();
      report({ kind: "stats", stats: worker.snapshot() });
      worker.close();
      await vips.close();
      await deleteVmacs(vmacs);
      report({ kind: "stopped" });
    } catch (err) {
      // Clean up first: the main thread terminates this Worker as soon as it hears "failed".
      try {
        await worker?.releaseVips();
        worker?.close();
        await vips?.close();
        await deleteVmacs(vmacs);
      } catch {
        // already failing; the first error is the one to report
      }
      report({ kind: "failed", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  })();
};

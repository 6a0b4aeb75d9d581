// The running box: brings the kernel to the config and keeps it there. Order at start: box sysctls,
// interfaces (ARP sysctls before links go up), health checks, IPVS (adopting what the kernel has), VRRP
// (which moves the VIPs and the sync daemon's role), then the operator console. Each part that cannot
// start is reported as an event and the rest carries on: a box without IPVS still answers on its console.
import { join } from "node:path";
import { diffConfigs } from "../config/diff.ts";
import { formatConfigError, loadConfigFile } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { consoleOptionsFromConfig } from "../console/from-config.ts";
import { type ConsoleHandle, startConsole } from "../console/index.ts";
import { EventRing, type LogRing } from "../console/rings.ts";
import { HealthEngine } from "../health/engine.ts";
import { healthSpecsFromConfig } from "../health/from-config.ts";
import { IpvsRuntime, OWNERSHIP_FILE } from "../ipvs/runtime.ts";
import type { EventBus } from "../log/events.ts";
import type { Logger } from "../log/logger.ts";
import type { LogOutput } from "../log/output.ts";
import { Rtnetlink } from "../netlink/rtnetlink.ts";
import type { ActionResult } from "../state/actions.ts";
import type { BoxSnapshot } from "../state/snapshot.ts";
import type { BootInfo } from "../system/boot.ts";
import { applyInterfaces } from "../system/interfaces.ts";
import { applySystemSysctls } from "../system/sysctl.ts";
import { UpdateService } from "../update/service.ts";
import { BUILD_ID, VERSION } from "../version.ts";
import { startVrrpFromConfig } from "../vrrp/config.ts";
import { MASTERS_FILE, type MastersRecord } from "../vrrp/resume.ts";
import type { VrrpHandle } from "../vrrp/service.ts";
import { trackKeyService } from "../vrrp/spec.ts";
import type { Role } from "../vrrp/types.ts";
import { DaemonActions } from "./actions.ts";
import { MastersRecorder, readMastersRecord } from "./masters-record.ts";
import { buildSnapshot, STATE_NAMES } from "./snapshot.ts";

export interface DaemonContext {
  readonly log: Logger;
  readonly events: EventBus;
  readonly configPath: string;
  /** Where the SSH host key and other state live (the data partition on the box). */
  readonly dataDir: string;
  /** Runtime state that must survive a restart of the process but not a reboot (/run/fulcrum). */
  readonly stateDir: string;
  /**
   * Run the box's serial console (log lines, and the TUI on Enter) on [system] console. Only on the box:
   * a development run must not take over the host's serial port.
   */
  readonly serialConsole?: boolean;
  /** The logger's output: the serial console takes it over while it holds the port. */
  readonly logOutput?: LogOutput;
  /** The newest log lines, for the TUI's log tail and the API's /log. */
  readonly logRing?: LogRing;
  readonly bootSlot: string;
  /** How this boot came about (PID 1 only; undefined elsewhere, where updates are refused). */
  readonly boot?: BootInfo;
  /** The config file did not validate and the box runs on the safe default (never blessed). */
  readonly configFallback?: boolean;
  /** Reboot the box (PID 1 only). */
  readonly reboot: ((reason: string) => void) | null;
}

export class Daemon {
  private readonly startedAtMs = Date.now();
  private readonly ring = new EventRing();
  private readonly vrrpHistory = new Map<string, { transitions: number; lastReason: string }>();
  private nl: Rtnetlink | null = null;
  private ipvs: IpvsRuntime | null = null;
  private vrrp: VrrpHandle | null = null;
  private vrrpFailed = false;
  private update: UpdateService | null = null;
  private masters: MastersRecorder | null = null;
  /** Each VRRP instance's latest role (for the IPVS sync daemon when VRRP started first). */
  private readonly vrrpRoles = new Map<string, Role>();
  private console: ConsoleHandle | null = null;
  private readonly health = new HealthEngine();
  private reloading: Promise<ActionResult> | null = null;
  private unsubscribeReady: (() => void) | null = null;

  private constructor(
    private config: Config,
    private readonly ctx: DaemonContext,
  ) {
    this.ring.attach(ctx.events);
  }

  static async start(config: Config, ctx: DaemonContext): Promise<Daemon> {
    const d = new Daemon(config, ctx);
    await d.startParts();
    return d;
  }

  private emit(event: string, reason: string, fields: Record<string, unknown> = {}): void {
    this.ctx.events.emit({ event, reason, ...fields });
  }

  private async startParts(): Promise<void> {
    const { config } = this;
    // A restart right after this box was master (kill -9, a crash): VRRP first, so it can resume before a
    // backup's down timer fires; the kernel still has the interfaces, the IPVS table and the VIPs.
    const resume = readMastersRecord(join(this.ctx.stateDir, MASTERS_FILE));
    const vrrpFirst = config.vrrp.instances.length > 0 && (resume?.masters.length ?? 0) > 0;
    if (vrrpFirst) await this.startVrrpReported(resume);
    try {
      this.nl = Rtnetlink.open();
      // Loopback first: nothing local (IPVS real-server checks, the API on 127.0.0.1) works without it,
      // and a box booted straight into fulcrum has no one else to bring it up.
      await this.nl.setLinkUp("lo", true);
      const report = await applyInterfaces(this.nl, config.interfaces, this.ctx.log);
      this.emit(
        report.ok ? "interfaces.applied" : "interfaces.problems",
        `${report.changes.length} interface change(s), ${report.problems.length} problem(s), ${report.differences.length} difference(s) left alone`,
        { changes: report.changes, problems: report.problems, differences: report.differences },
      );
    } catch (err) {
      this.emit("interfaces.failed", `interface setup failed: ${String(err)}`);
    }

    this.health.onEvent((e) => this.ctx.events.emit(e));
    const configured = this.health.configure(healthSpecsFromConfig(config));
    if (!configured.ok) this.emit("health.rejected", configured.reason);

    if (config.services.length > 0 || config.ipvs.sync_daemon !== undefined) {
      try {
        this.ipvs = await IpvsRuntime.start({
          config,
          events: this.ctx.events,
          health: this.health,
          ownershipPath: join(this.ctx.stateDir, OWNERSHIP_FILE),
        });
      } catch (err) {
        this.emit("ipvs.unavailable", `IPVS cannot be programmed: ${String(err)}`);
      }
    }

    // The sync daemon follows VRRP states reported before IPVS was up (VRRP started first).
    for (const [instance, role] of this.vrrpRoles) void this.ipvs?.onVrrpState(instance, STATE_NAMES[role]);

    this.applySysctls(config);

    if (config.vrrp.instances.length > 0 && !vrrpFirst) await this.startVrrpReported(resume);

    this.update = new UpdateService({
      events: this.ctx.events,
      dataDir: this.ctx.dataDir,
      boot: this.ctx.boot,
      config: config.update,
      reboot: this.ctx.reboot,
      health: () => ({
        configLoaded: this.ctx.configFallback !== true,
        vrrpUp: this.config.vrrp.instances.length === 0 || (this.vrrp !== null && !this.vrrpFailed),
        ipvsUp:
          (this.config.services.length === 0 && this.config.ipvs.sync_daemon === undefined) ||
          this.ipvs !== null,
      }),
    });
    this.update.start();

    await this.startConsole();
  }

  /** After IPVS is up, so its net.ipv4.vs.* files exist; a failed key is reported, never fatal. */
  private applySysctls(config: Config): void {
    const sys = applySystemSysctls(config.system.sysctl);
    this.emit(
      sys.failed.length === 0 ? "system.sysctls" : "system.sysctls_failed",
      `${sys.changes.length} box sysctl(s) changed${sys.failed.length > 0 ? `; not set: ${sys.failed.map((f) => f.key).join(", ")}` : ""}`,
      { changes: sys.changes, failed: sys.failed },
    );
  }

  private async startVrrpReported(resume: MastersRecord | null): Promise<void> {
    try {
      await this.startVrrp(resume);
    } catch (err) {
      this.emit("vrrp.unavailable", `VRRP did not start: ${String(err)}`);
    }
  }

  /** `resume`: what the previous run recorded; a restart within the down interval resumes mastership. */
  private async startVrrp(resume: MastersRecord | null): Promise<void> {
    const mastersPath = join(this.ctx.stateDir, MASTERS_FILE);
    const masters = new MastersRecorder(mastersPath, (reason) =>
      this.emit("vrrp.record_failed", `VRRP masters record not written (a restart starts fresh): ${reason}`),
    );
    this.masters = masters;
    this.vrrp = await startVrrpFromConfig(this.config.vrrp, {
      resume,
      onEvent: ({ change }) => {
        masters.onState(change.instance, change.to);
        this.vrrpRoles.set(change.instance, change.to);
        const h = this.vrrpHistory.get(change.instance) ?? { transitions: 0, lastReason: "" };
        this.vrrpHistory.set(change.instance, { transitions: h.transitions + 1, lastReason: change.reason });
        this.emit("vrrp.state", `${change.instance}: ${change.from} -> ${change.to} (${change.reason})`, {
          instance: change.instance,
          from: change.from,
          to: change.to,
          priority: change.priority,
          ...(change.group === undefined ? {} : { group: change.group }),
        });
        void this.ipvs?.onVrrpState(change.instance, STATE_NAMES[change.to]);
      },
      onLog: (level, msg, data) => this.ctx.log[level]({ event: "vrrp.log", data }, msg),
      onNotify: (o) => this.ctx.log.info({ event: "vrrp.notify", outcome: o }, "notify hook ran"),
    });
    if (this.vrrp === null) return;
    const handle = this.vrrp;
    // A Worker that dies is reported; the box stays up on its console (the watchdog is PID 1's business).
    void handle.done.then((err) => {
      if (err) {
        this.vrrpFailed = true;
        this.emit("vrrp.failed", `VRRP stopped: ${err.message}`);
      }
    });
    // Tracked services start from the health layer's current quorum, then follow it.
    for (const s of this.config.services) {
      const up = this.health.quorumUp(s.name);
      if (up !== undefined) handle.track(trackKeyService(s.name), up);
    }
    this.health.onQuorum((service, up) => this.vrrp?.track(trackKeyService(service), up));
  }

  private async startConsole(): Promise<void> {
    const parts = consoleOptionsFromConfig(this.config.system, this.ctx.dataDir);
    const actions = new DaemonActions(
      {
        health: this.health,
        vrrpAdmin: (instance, priority, resign) => {
          if (!this.vrrp || !this.config.vrrp.instances.some((i) => i.name === instance)) return false;
          this.vrrp.admin(instance, { priority, resign });
          return true;
        },
        reload: (confirm) => this.reload(confirm),
        reboot: this.ctx.reboot,
        update: (source, force, who) =>
          this.update === null
            ? Promise.resolve({ ok: false, message: "the updater is not running" })
            : this.update.apply(source, force, who),
      },
      this.ctx.events,
    );
    this.console = await startConsole({
      snapshot: () => this.snapshot(),
      actions,
      log: this.ctx.log,
      ...(this.ctx.serialConsole === true && parts.tty
        ? { serial: { device: parts.tty.device, baud: this.config.system.console_baud } }
        : {}),
      ...(parts.ssh && parts.ssh.users.length > 0 ? { ssh: parts.ssh } : {}),
      ...(parts.api ? { api: parts.api } : {}),
    });
    for (const e of this.console.errors) this.emit("console.part_failed", e);
    const serial = this.console.serial;
    if (serial !== null) {
      this.ctx.logOutput?.redirect(serial);
      // The prompt comes after the line that says the box is ready, not in the middle of the boot.
      this.unsubscribeReady = this.ctx.events.subscribe((e) => {
        if (e.event === "fulcrum.ready") serial.markReady();
      });
    }
  }

  snapshot(): BoxSnapshot {
    return buildSnapshot({
      config: this.config,
      version: VERSION,
      build: BUILD_ID,
      startedAtMs: this.startedAtMs,
      nowMs: Date.now(),
      healthNowMs: this.health.now(),
      vrrp: this.vrrp?.lastStats() ?? null,
      vrrpHistory: this.vrrpHistory,
      ipvs: this.ipvs?.snapshot() ?? [],
      health: (name) => this.health.snapshot(name),
      events: this.ring.events(),
      update: this.update?.snapshot(this.ctx.bootSlot) ?? {
        bootSlot: this.ctx.bootSlot,
        state: "idle",
        progress: null,
        lastResult: "",
      },
      ...(this.ctx.logRing === undefined ? {} : { log: this.ctx.logRing.lines() }),
    });
  }

  /**
   * Re-reads the config file. A dry run returns the diff; a confirmed one applies it. A config that does
   * not validate changes nothing and says why. VRRP instance changes need a restart (reported in the diff).
   */
  reload(confirm: boolean): Promise<ActionResult> {
    if (this.reloading) return this.reloading;
    this.reloading = this.doReload(confirm).finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async doReload(confirm: boolean): Promise<ActionResult> {
    const loaded = await loadConfigFile(this.ctx.configPath);
    if (!loaded.ok) {
      const lines = loaded.errors.map(formatConfigError);
      this.emit("config.reload_rejected", `${lines.length} problem(s); the running config stays`, { lines });
      return { ok: false, message: `config not valid; nothing changed:\n${lines.join("\n")}` };
    }
    const diff = diffConfigs(this.config, loaded.config);
    if (!confirm) return { ok: true, message: `${diff.length} change(s)`, diff };
    if (diff.length === 0) return { ok: true, message: "no change", diff };
    const next = loaded.config;
    const vrrpChanged = diff.some((l) => l.slice(2).startsWith("vrrp."));
    this.applySysctls(next);
    if (this.nl) await applyInterfaces(this.nl, next.interfaces, this.ctx.log);
    const configured = this.health.configure(healthSpecsFromConfig(next));
    if (!configured.ok) {
      return { ok: false, message: `health layer refused the new config: ${configured.reason}`, diff };
    }
    this.config = next;
    this.update?.reconfigure(next.update);
    await this.ipvs?.reload(next);
    this.console?.setUsers(
      next.system.ssh.users.map((u) => ({ name: u.name, role: u.role, keys: u.authorized_keys })),
    );
    this.emit("config.reloaded", `${diff.length} change(s) applied`, { diff });
    const note = vrrpChanged ? "; VRRP changes take effect at the next restart" : "";
    return { ok: true, message: `${diff.length} change(s) applied${note}`, diff };
  }

  async stop(): Promise<void> {
    const timings: Record<string, number> = {};
    const timed = async (part: string, fn: () => Promise<unknown> | undefined) => {
      const t0 = performance.now();
      await fn();
      timings[part] = Math.round(performance.now() - t0);
    };
    // VRRP first: priority 0 tells the backups to take over now, and the VIPs leave this box (so the
    // next run has no mastership to resume).
    this.update?.stop();
    this.masters?.stop();
    await timed("vrrp", () => this.vrrp?.stop());
    this.unsubscribeReady?.();
    this.ctx.logOutput?.redirect(null); // the last lines go straight to the console again
    await timed("console", () => this.console?.close());
    await timed("health", () => this.health.stop());
    // The IPVS table stays in the kernel: traffic keeps flowing while fulcrum restarts.
    await timed("ipvs", () => this.ipvs?.stop());
    await timed("netlink", () => this.nl?.close());
    this.emit("fulcrum.stopped", "all parts stopped", { ms: timings });
    this.ring.detach();
  }
}

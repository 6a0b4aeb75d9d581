// IPVS in the running box: the controller fed by the config and the health layer's pools, connection
// timeouts, the sync daemon following VRRP, drains that finish when a real server's connections end,
// and a periodic read of the kernel's counters for the console and /metrics.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Config, ServiceConfig } from "../config/types.ts";
import type { HealthEngine } from "../health/engine.ts";
import { toDestSpecs } from "../health/pool.ts";
import type { EffectiveDest } from "../health/types.ts";
import type { EventBus } from "../log/events.ts";
import { describeOp, Ipvs, type SyncDaemonSpec } from "../netlink/ipvs.ts";
import type { VrrpStateName } from "../state/snapshot.ts";
import { IpvsController, type OwnershipStore } from "./controller.ts";
import { configuredDests, desiredService, serviceKeyOf, tunnelOf } from "./desired.ts";
import { cancelDrain, type Drain, startDrain, stepDrains } from "./drain.ts";
import { hostPort, type KernelService, serviceKeyString } from "./model.ts";
import type { Ownership } from "./reconcile.ts";
import { type SyncRole, SyncRoleFollower } from "./sync-role.ts";

/** Ownership file name inside the daemon's state directory (on /run: gone at reboot, like the table). */
export const OWNERSHIP_FILE = "ipvs-owned.json";
/** How often the kernel's counters are read (console rates, drains). */
export const REFRESH_INTERVAL_MS = 2_000;

/** Ownership as a small JSON file written atomically (rename), on /run: gone at reboot, as is the table. */
export class FileOwnershipStore implements OwnershipStore {
  constructor(private readonly path: string) {}

  async load(): Promise<Ownership> {
    try {
      const raw = JSON.parse(await readFile(this.path, "utf8")) as { services?: unknown; dests?: unknown };
      const strings = (v: unknown) =>
        Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
      return { services: new Set(strings(raw.services)), dests: new Set(strings(raw.dests)) };
    } catch {
      return { services: new Set(), dests: new Set() };
    }
  }

  async save(owned: Ownership): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify({ services: [...owned.services], dests: [...owned.dests] }));
    await rename(tmp, this.path);
  }
}

export interface IpvsRuntimeOptions {
  readonly config: Config;
  readonly events: EventBus;
  /** When given, real servers follow health; otherwise every configured real server is in the pool. */
  readonly health?: HealthEngine;
  /** Where ownership is kept; one file per daemon, so two daemons on one box never claim each other's entries. */
  readonly ownershipPath: string;
}

export class IpvsRuntime {
  private drains: ReadonlyMap<string, Drain> = new Map();
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private readonly syncRole: SyncRoleFollower;
  private table: KernelService[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private refreshing = false;

  private constructor(
    private readonly ipvs: Ipvs,
    readonly controller: IpvsController,
    private services: ReadonlyMap<string, ServiceConfig>,
    private config: Config,
    private readonly opts: IpvsRuntimeOptions,
  ) {
    this.syncRole = new SyncRoleFollower(
      ipvs,
      (role) => this.syncSpec(role),
      (outcome) => {
        const sync = this.config.ipvs.sync_daemon;
        this.opts.events.emit(
          outcome.ok
            ? {
                event: "ipvs.sync_daemon",
                reason: `connection sync daemon is ${outcome.role} on ${sync?.interface} (syncid ${sync?.syncid})`,
                role: outcome.role,
              }
            : { event: "ipvs.sync_daemon_failed", reason: outcome.error, role: outcome.role },
        );
      },
    );
  }

  /** Opens IPVS, applies timeouts and the whole desired table; throws if the kernel has no IPVS. */
  static async start(opts: IpvsRuntimeOptions): Promise<IpvsRuntime> {
    const ipvs = Ipvs.open();
    const events = opts.events;
    const controller = new IpvsController(ipvs, new FileOwnershipStore(opts.ownershipPath), {
      applied: (s) =>
        events.emit({
          event: "ipvs.applied",
          reason: `${s.ops} IPVS change(s) for ${s.scope}${s.failed > 0 ? `, ${s.failed} failed` : ""}`,
          ...s,
        }),
      failed: (op, error, attempt) =>
        events.emit({
          event: "ipvs.change_failed",
          reason: error.message,
          change: describeOp(op),
          attempt,
        }),
      foreign: (entries) =>
        events.emit({
          event: "ipvs.foreign",
          reason: `${entries.length} IPVS entries not managed by fulcrum left alone`,
          entries,
        }),
    });
    const rt = new IpvsRuntime(ipvs, controller, byName(opts.config.services), opts.config, opts);
    await rt.applyTimeouts();
    await rt.reconcileAll();
    if (opts.health) {
      rt.unsubscribe.push(opts.health.onPool((name, pool) => void rt.onPool(name, pool)));
    }
    rt.refreshTimer = setInterval(() => void rt.refresh(), REFRESH_INTERVAL_MS);
    const sync = opts.config.ipvs.sync_daemon;
    if (sync && sync.state !== "vrrp") await rt.syncRole.want(sync.state);
    return rt;
  }

  /** The table as last read from (or written to) the kernel. */
  snapshot(): readonly KernelService[] {
    return this.table.length > 0 ? this.table : this.controller.knownTable();
  }

  /** A new config (reload): only what changed reaches the kernel. */
  async reload(config: Config): Promise<void> {
    this.config = config;
    this.services = byName(config.services);
    await this.applyTimeouts();
    await this.reconcileAll();
  }

  /** VRRP told us this box's role for the sync daemon's instance. */
  async onVrrpState(instance: string, state: VrrpStateName): Promise<void> {
    const sync = this.config.ipvs.sync_daemon;
    if (sync?.state !== "vrrp" || sync.vrrp_instance !== instance) return;
    await this.syncRole.want(state === "MASTER" ? "master" : "backup");
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.syncRole.close();
    for (const u of this.unsubscribe) u();
    // The table stays in the kernel: traffic keeps flowing while fulcrum restarts.
    await this.controller.flush();
    await this.ipvs.close();
  }

  private desiredFor(s: ServiceConfig) {
    const pool = this.opts.health?.pool(s.name);
    return desiredService(s, pool ? toDestSpecs(pool, tunnelOf(s)) : configuredDests(s));
  }

  private async reconcileAll(): Promise<void> {
    const desired = [...this.services.values()].map((s) => this.desiredFor(s));
    await this.controller.reconcileAll(desired);
  }

  private async onPool(name: string, pool: readonly EffectiveDest[]): Promise<void> {
    const s = this.services.get(name);
    if (!s) return;
    const key = serviceKeyOf(s);
    const now = performance.now();
    for (const d of pool) {
      if (d.role === "drain") {
        this.drains = startDrain(this.drains, key, d, now, this.config.ipvs.drain_timeout * 1000);
      } else {
        // Enabled again before the drain finished: its end must not take the real server out later.
        this.drains = cancelDrain(this.drains, key, d);
      }
    }
    await this.controller.updateService(desiredService(s, toDestSpecs(pool, tunnelOf(s))));
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return; // a large table may take longer to read than the interval
    this.refreshing = true;
    try {
      this.table = await this.controller.readKernel();
    } catch (err) {
      this.opts.events.emit({ event: "ipvs.read_failed", reason: String(err) });
      return;
    } finally {
      this.refreshing = false;
    }
    if (this.drains.size === 0) return;
    const step = stepDrains(this.drains, this.table, performance.now());
    this.drains = step.drains;
    for (const f of step.finished) {
      const service = [...this.services.values()].find(
        (s) => serviceKeyString(serviceKeyOf(s)) === serviceKeyString(f.drain.service),
      );
      const real = hostPort(f.drain.dest.address, f.drain.dest.port);
      this.opts.events.emit({
        event: "ipvs.drain.finished",
        reason: `drain of ${real} finished (${f.reason}, ${f.activeConns} active, ${f.inactiveConns} inactive)`,
        service: service?.name,
        real,
      });
      if (service) this.opts.health?.disable(service.name, real);
    }
  }

  private async applyTimeouts(): Promise<void> {
    const c = this.config.ipvs;
    if (c.timeout_tcp === 0 && c.timeout_tcpfin === 0 && c.timeout_udp === 0) return;
    await this.ipvs.setTimeouts({ tcp: c.timeout_tcp, tcpFin: c.timeout_tcpfin, udp: c.timeout_udp });
  }

  private syncSpec(role: SyncRole): SyncDaemonSpec {
    const sync = this.config.ipvs.sync_daemon;
    if (!sync) throw new Error("no [ipvs.sync_daemon] in the config");
    return {
      state: role,
      interface: sync.interface,
      syncId: sync.syncid,
      ...(sync.maxlen === undefined ? {} : { maxLength: sync.maxlen }),
      ...(sync.port === undefined ? {} : { mcastPort: sync.port }),
      ...(sync.ttl === undefined ? {} : { mcastTtl: sync.ttl }),
      ...(sync.group === undefined ? {} : { mcastGroup: sync.group }),
    };
  }
}

function byName(services: readonly ServiceConfig[]): ReadonlyMap<string, ServiceConfig> {
  return new Map(services.map((s) => [s.name, s]));
}

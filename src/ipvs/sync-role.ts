// The connection sync daemon's role, following VRRP: master while the instance is MASTER, backup otherwise
// (keepalived's lvs_sync_daemon). VRRP can change state faster than the kernel answers (startup -> backup
// -> master within one tick, a flap), so requests are serialized and coalesced: the kernel always ends up
// in the latest role asked for, whatever order the netlink answers come back in.
import type { SyncDaemonSpec, SyncDaemonStatus } from "../netlink/ipvs.ts";

export type SyncRole = "master" | "backup";

/** The part of the netlink IPVS client the follower needs (src/netlink/ipvs.ts implements it). */
export interface SyncDaemonPort {
  syncDaemons(): Promise<readonly Pick<SyncDaemonStatus, "state">[]>;
  startSyncDaemon(spec: SyncDaemonSpec): Promise<void>;
  stopSyncDaemon(state: SyncRole): Promise<void>;
}

export type SyncRoleOutcome =
  | { readonly ok: true; readonly role: SyncRole }
  | { readonly ok: false; readonly role: SyncRole; readonly error: string };

/**
 * After a failed change, retry after these delays (then every last one) until the kernel has the role:
 * under load, stopping the kernel's sync thread can outlast the netlink deadline, and waiting for the next
 * VRRP change would leave a standby without its backup daemon (every connection lost at the failover).
 */
export const SYNC_ROLE_RETRY_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000];

export class SyncRoleFollower {
  private wanted: SyncRole | null = null;
  private applied: SyncRole | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly port: SyncDaemonPort,
    private readonly specFor: (role: SyncRole) => SyncDaemonSpec,
    private readonly report: (outcome: SyncRoleOutcome) => void,
    private readonly retryMs: readonly number[] = SYNC_ROLE_RETRY_MS,
  ) {}

  /** No more changes or retries (the runtime stops; the kernel keeps whatever daemon it has). */
  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** The role the kernel was last brought to (null before the first success). */
  get role(): SyncRole | null {
    return this.applied;
  }

  /** Asks for `role`; resolves once the kernel has the latest role asked for (or a change failed). */
  want(role: SyncRole): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.wanted = role;
    if (this.running === null && role === this.applied) return Promise.resolve();
    this.running ??= this.converge();
    return this.running;
  }

  private async converge(): Promise<void> {
    await Promise.resolve(); // want() stores this run before the loop can end it
    // A failure stops the loop (reported); a retry, or the next request, tries again.
    let failed = false;
    while (!failed && this.wanted !== null && this.wanted !== this.applied) {
      const role = this.wanted;
      try {
        const running = await this.port.syncDaemons();
        for (const d of running) if (d.state !== role) await this.port.stopSyncDaemon(d.state);
        if (!running.some((d) => d.state === role)) await this.port.startSyncDaemon(this.specFor(role));
        this.applied = role;
        this.failures = 0;
        this.report({ ok: true, role });
      } catch (err) {
        this.applied = null; // unknown: the retry re-reads the kernel
        failed = true;
        this.report({ ok: false, role, error: err instanceof Error ? err.message : String(err) });
        this.scheduleRetry();
      }
    }
    // Cleared in the same synchronous step as the last check, so a request made after it starts a new loop.
    this.running = null;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== null) return;
    const delay = this.retryMs[Math.min(this.failures, this.retryMs.length - 1)] ?? 10_000;
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted !== null) void this.want(this.wanted);
    }, delay);
  }
}

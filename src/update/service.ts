// The updater inside the daemon: applies artifacts on an operator's request or when the poller of
// `[update] url` finds a newer release, shows progress in the snapshot and the logs, reboots by the
// configured policy, blesses a counted boot once the box has been healthy long enough, and at start
// reports an update that was rolled back by the boot loader.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { sync } from "../../ffi/system.ts";
import type { UpdateConfig } from "../config/types.ts";
import type { BoxEvent } from "../log/events.ts";
import type { ActionResult } from "../state/actions.ts";
import type { UpdateSnapshot } from "../state/snapshot.ts";
import { type BootInfo, blessBoot } from "../system/boot.ts";
import { type ApplyProgress, applyArtifact, type StreamSource } from "./apply.ts";
import { type BlessState, blessFinished, blessPolicy, type Health, startBless, stepBless } from "./bless.ts";
import { boxTarget, findSlots, loadTrustedKeys, removeEntries } from "./box.ts";
import { parseEntry } from "./layout.ts";
import { PRODUCT } from "./manifest.ts";
import type { CheckResult } from "./poll.ts";
import { UpdatePoller } from "./poller.ts";
import { formatProgress } from "./progress.ts";
import {
  onBoot,
  onCommitted,
  onFailed,
  onWritten,
  RECORD_FILE,
  readRecord,
  type UpdateRecord,
  writeRecord,
} from "./record.ts";
import { checkRemote } from "./remote.ts";

export interface UpdateServiceOptions {
  readonly events: { emit(e: BoxEvent): void };
  readonly dataDir: string;
  /** undefined off the box (`fulcrum run` on a workstation): updates are refused. */
  readonly boot: BootInfo | undefined;
  readonly config: UpdateConfig;
  readonly reboot: ((reason: string) => void) | null;
  readonly health: () => Health;
  readonly keysDir?: string;
}

const BLESS_TICK_MS = 1000;
/** A check that gets no answer within this long fails (and is retried with backoff). */
const CHECK_TIMEOUT_MS = 30_000;

export class UpdateService {
  private state: UpdateSnapshot["state"] = "idle";
  private progress: UpdateSnapshot["progress"] = null;
  private lastResult = "";
  private busy = false;
  /** The apply running now (resolves when it has ended either way). */
  private applying: Promise<void> = Promise.resolve();
  private poller: UpdatePoller | undefined;
  private pollLast = "";
  private config: UpdateConfig;
  private bless: BlessState = { phase: "not-counted" };
  private blessTimer: ReturnType<typeof setInterval> | undefined;
  private rebootTimer: ReturnType<typeof setTimeout> | undefined;
  private record: UpdateRecord;
  private readonly recordPath: string;
  private readonly stagingPath: string;

  constructor(private readonly o: UpdateServiceOptions) {
    this.recordPath = join(o.dataDir, RECORD_FILE);
    this.stagingPath = join(o.dataDir, "update", "incoming.fupd");
    const read = readRecord(this.recordPath);
    if (read.problem !== undefined) this.emit("update.record_problem", read.problem);
    this.record = read.record;
    this.config = o.config;
  }

  private emit(event: string, reason: string, fields: Record<string, unknown> = {}): void {
    this.o.events.emit({ event, reason, ...fields });
  }

  private get running(): string | undefined {
    return this.o.boot?.version;
  }

  private save(next: UpdateRecord): void {
    this.record = next;
    try {
      writeRecord(this.recordPath, next);
      sync();
    } catch (err) {
      this.emit("update.record_problem", `cannot write ${this.recordPath}: ${String(err)}`);
    }
  }

  /** Compares the record with the booted release, then starts the bless clock on a counted boot. */
  start(): void {
    const running = this.running;
    if (running === undefined) return;
    // A download cut short by a reboot or power cut is of no use: the next apply fetches it again.
    rmSync(this.stagingPath, { force: true });
    const { record, finding } = onBoot(this.record, running, new Date().toISOString());
    if (record !== this.record) this.save(record);
    if (finding.kind === "rolled-back") {
      this.state = "failed";
      this.lastResult = finding.message;
      this.emit("update.rolled_back", `UPDATE FAILED: ${finding.message}`, {
        from: finding.pending.from,
        to: finding.pending.to,
      });
      try {
        const gone =
          this.o.boot?.rootDevice === undefined
            ? []
            : removeEntries(this.o.boot.rootDevice, finding.pending.to);
        if (gone.length > 0)
          this.emit("update.entry_removed", `removed the failed release's boot entry ${gone.join(", ")}`);
      } catch (err) {
        this.emit("update.record_problem", `cannot remove the failed release's boot entry: ${String(err)}`);
      }
    } else if (finding.kind === "stale") {
      this.emit("update.record_problem", finding.message);
    } else if (finding.kind === "trying") {
      this.lastResult = `trying ${running} (from ${finding.pending.from}); committed once healthy for ${this.config.bless_after} s`;
      this.emit("update.trying", this.lastResult, { from: finding.pending.from, to: running });
    } else if (this.record.last !== undefined) {
      this.lastResult = this.record.last.message;
    }
    const entry = this.o.boot?.loaderEntry;
    const counted = entry !== undefined && parseEntry(entry)?.left !== undefined;
    this.bless = startBless(counted, Date.now());
    if (counted) {
      this.emit(
        "update.probation",
        `boot entry ${entry} is on probation: blessed after ${this.config.bless_after} s healthy (config loaded, VRRP and IPVS up)`,
      );
      this.blessTimer = setInterval(() => this.tickBless(), BLESS_TICK_MS);
    }
    this.startPoller();
  }

  /** Polls `[update] url` every check_interval (if both are set), first once this boot is blessed. */
  private startPoller(reload = false): void {
    this.poller?.stop();
    this.poller = undefined;
    this.pollLast = "";
    const { url, check_interval } = this.config;
    const boot = this.o.boot;
    if (url === undefined || check_interval <= 0 || boot?.rootDevice === undefined || !boot.uefi) return;
    this.poller = new UpdatePoller(
      { url, intervalMs: check_interval * 1000 },
      {
        check: () => this.checkUrl(url),
        apply: () => this.applyFromPoll(url),
        facts: () => ({ busy: this.busy, pendingReboot: this.state === "pending-reboot" }),
        emit: (event, reason) => {
          this.pollLast = reason;
          this.emit(event, reason, { url });
        },
      },
    );
    const blessed = this.bless.phase === "not-counted" || this.bless.phase === "done";
    this.poller.start(blessed, reload);
  }

  /** A reloaded config: the poller follows a changed url or check_interval; the rest applies to the next update. */
  reconfigure(config: UpdateConfig): void {
    const before = this.config;
    this.config = config;
    if (this.running === undefined) return;
    if (before.url !== config.url || before.check_interval !== config.check_interval) this.startPoller(true);
  }

  /** What `url` offers, judged like an apply would (signature, policy), reading only its header. */
  private async checkUrl(url: string): Promise<CheckResult> {
    const running = this.running;
    const rootDevice = this.o.boot?.rootDevice;
    if (running === undefined || rootDevice === undefined)
      return { kind: "failed", detail: "not on the box" };
    const slots = await findSlots(rootDevice);
    const keys = loadTrustedKeys(this.config.trusted_keys, this.o.keysDir);
    const last = this.record.last;
    return checkRemote({
      url,
      trustedKeys: keys.keys,
      facts: { product: PRODUCT, running, floor: this.record.floor, slotBytes: slots.inactive.bytes },
      failedVersion: last?.result === "rolled-back" ? last.version : undefined,
      timeoutMs: CHECK_TIMEOUT_MS,
    });
  }

  private async applyFromPoll(url: string): Promise<{ ok: boolean; pendingReboot: boolean; detail: string }> {
    const r = await this.apply(url, false, `poll of ${url}`);
    if (!r.ok) return { ok: false, pendingReboot: false, detail: r.message };
    await this.applying;
    const pendingReboot = this.state === "pending-reboot";
    return { ok: pendingReboot, pendingReboot, detail: this.lastResult };
  }

  private tickBless(): void {
    const { state, action } = stepBless(
      this.bless,
      this.o.health(),
      Date.now(),
      blessPolicy(this.config.bless_after),
    );
    this.bless = state;
    if (action.kind === "bless") {
      const r = blessBoot(this.o.boot);
      this.bless = blessFinished(r.blessed, Date.now());
      if (r.blessed) {
        clearInterval(this.blessTimer);
        const running = this.running ?? "?";
        const wasPending = this.record.pending?.to === running;
        this.save(onCommitted(this.record, running, new Date().toISOString()));
        if (wasPending) this.lastResult = `update to ${running} committed`;
        this.poller?.blessed();
        this.emit(
          "update.blessed",
          `boot of ${running} blessed after ${Math.round(action.healthyMs / 1000)} s healthy (${r.from} -> ${r.to})${wasPending ? "; update committed" : ""}`,
          {
            version: running,
            committed: wasPending,
          },
        );
      } else {
        this.emit("update.bless_failed", `could not bless this boot: ${r.reason}`);
      }
    } else if (action.kind === "reboot") {
      clearInterval(this.blessTimer);
      this.emit("update.unhealthy", action.reason);
      this.o.reboot?.(action.reason);
    }
  }

  snapshot(slot: string): UpdateSnapshot {
    const base = { bootSlot: slot, state: this.state, progress: this.progress, lastResult: this.lastResult };
    const { url, check_interval } = this.config;
    if (this.poller === undefined || url === undefined) return base;
    return {
      ...base,
      poll: {
        url,
        intervalS: check_interval,
        nextCheckAtMs: this.poller.nextCheckMs ?? null,
        last: this.pollLast,
      },
    };
  }

  /**
   * Starts applying `source`. Resolves once the header is verified (the update is accepted and runs on
   * in the background) or refused; the outcome is reported as events and in the snapshot.
   */
  apply(source: string | StreamSource, force: boolean, who: string): Promise<ActionResult> {
    if (this.busy) return Promise.resolve({ ok: false, message: "an update is already being applied" });
    const boot = this.o.boot;
    const running = this.running;
    if (boot?.rootDevice === undefined || running === undefined || !boot.uefi)
      return Promise.resolve({ ok: false, message: "updates need the box (a UEFI boot from an A/B disk)" });
    this.busy = true;
    this.state = "verifying";
    this.progress = null;
    let answer: (r: ActionResult) => void = () => {};
    const answered = new Promise<ActionResult>((resolve) => {
      answer = resolve;
    });
    this.applying = this.run(source, force, who, boot.rootDevice, running, answer).finally(() => {
      this.busy = false;
    });
    return answered;
  }

  private async run(
    source: string | StreamSource,
    force: boolean,
    who: string,
    rootDevice: string,
    running: string,
    answer: (r: ActionResult) => void,
  ): Promise<void> {
    let lastLog = 0;
    const onProgress = (p: ApplyProgress) => {
      const now = Date.now();
      this.state = p.phase;
      const elapsed = (performance.now() - p.startedMs) / 1000;
      this.progress = {
        bytes: p.bytes,
        total: p.total,
        rateBps: elapsed > 0 ? Math.round(p.bytes / elapsed) : 0,
      };
      if (now - lastLog >= 5000 || p.bytes === p.total) {
        lastLog = now;
        const line = formatProgress(p.phase, {
          bytes: p.bytes,
          total: p.total,
          startedMs: p.startedMs,
          nowMs: performance.now(),
        });
        this.emit("update.progress", line, {
          phase: p.phase,
          bytes: p.bytes,
          total: p.total,
          rateBps: this.progress.rateBps,
        });
      }
    };
    try {
      const slots = await findSlots(rootDevice);
      const keys = loadTrustedKeys(this.config.trusted_keys, this.o.keysDir);
      for (const p of keys.problems) this.emit("update.key_problem", p);
      const result = await applyArtifact({
        source,
        trustedKeys: keys.keys,
        facts: { product: PRODUCT, running, floor: this.record.floor },
        force,
        target: boxTarget({ rootDevice, running, inactive: slots.inactive, tries: this.config.tries }),
        stagingPath: this.stagingPath,
        onProgress,
        onAccepted: (m, signer) => {
          this.emit(
            "update.accepted",
            `${who}: update ${running} -> ${m.version} (build ${m.build}) accepted, signed by key ${signer}; writing slot ${slots.inactive.slot} (${slots.inactive.device})`,
            {
              from: running,
              to: m.version,
              slot: slots.inactive.slot,
            },
          );
          // An upload is answered once it has all arrived (the client is still sending until then).
          if (typeof source === "string")
            answer({
              ok: true,
              message: `update to ${m.version} started (slot ${slots.inactive.slot}); follow it with 'show update'`,
            });
        },
        onChecked: (m) => {
          answer({
            ok: true,
            message: `update to ${m.version} received and verified; writing slot ${slots.inactive.slot}; follow it with 'show update'`,
          });
        },
      });
      if (!result.ok) {
        this.state = "failed";
        this.progress = null;
        this.lastResult = `update ${result.stage === "header" ? "refused" : `failed (${result.stage})`}: ${result.reason}`;
        this.save(
          onFailed(this.record, result.manifest?.version ?? "?", new Date().toISOString(), this.lastResult),
        );
        this.emit(result.stage === "header" ? "update.refused" : "update.failed", this.lastResult, {
          stage: result.stage,
        });
        answer({ ok: false, message: this.lastResult });
        return;
      }
      const m = result.manifest;
      this.save(
        onWritten(this.record, {
          from: running,
          to: m.version,
          slot: slots.inactive.slot,
          entry: result.entry,
          atIso: new Date().toISOString(),
          forced: result.downgrade,
        }),
      );
      this.state = "pending-reboot";
      this.lastResult = `${m.version} written to slot ${slots.inactive.slot} in ${(result.ms / 1000).toFixed(1)} s; boots next as ${result.entry}`;
      this.emit("update.ready", this.lastResult, {
        from: running,
        to: m.version,
        entry: result.entry,
        ms: Math.round(result.ms),
      });
      this.scheduleReboot(m.version);
    } catch (err) {
      this.state = "failed";
      this.lastResult = `update failed: ${String(err)}`;
      this.emit("update.failed", this.lastResult);
      answer({ ok: false, message: this.lastResult });
    }
  }

  private scheduleReboot(version: string): void {
    const c = this.config;
    const reason = `switching to ${version}`;
    if (c.reboot === "immediate") {
      this.o.reboot?.(reason);
    } else if (c.reboot === "window" && c.reboot_window !== undefined) {
      const ms = msUntilWindow(c.reboot_window, new Date());
      this.emit(
        "update.reboot_scheduled",
        `reboot into ${version} in the window ${c.reboot_window} UTC (in ${Math.round(ms / 60000)} min)`,
      );
      this.rebootTimer = setTimeout(() => this.o.reboot?.(reason), ms);
    } else {
      this.emit("update.reboot_needed", `${version} boots at the next reboot (reboot = "manual")`);
    }
  }

  stop(): void {
    this.poller?.stop();
    clearInterval(this.blessTimer);
    clearTimeout(this.rebootTimer);
  }
}

/** Milliseconds from `now` to the start of the next "HH:MM-HH:MM" window (0 if inside it). Pure. */
export function msUntilWindow(window: string, now: Date): number {
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(window);
  if (m === null) return 0;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  const cur = now.getUTCHours() * 60 + now.getUTCMinutes();
  const inside = start <= end ? cur >= start && cur < end : cur >= start || cur < end;
  if (inside) return 0;
  const minutes = (start - cur + 1440) % 1440;
  return minutes * 60_000 - now.getUTCSeconds() * 1000 - now.getUTCMilliseconds();
}

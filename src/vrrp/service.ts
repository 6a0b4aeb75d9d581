// Main-thread side of VRRP: starts the Worker, forwards tracking and operator inputs to it, and turns its
// reports into events for the rest of fulcrum (IPVS sync-daemon role, console, metrics) and notify hooks.
import { close as closeFd, eventfd, eventfdSignal } from "../../ffi/libc.ts";
import { workerUrl } from "../../ffi/worker-url.ts";
import { Notifier, type NotifyConfig, type NotifyOutcome } from "./notify.ts";
import type { WorkerCommand, WorkerReport, WorkerStats } from "./protocol.ts";
import { type MastersRecord, resumableMasters } from "./resume.ts";
import { checkSpecs } from "./spec.ts";
import type { StateChange, SyncGroupSpec, VrrpInstanceSpec } from "./types.ts";

export interface VrrpEvent {
  readonly change: StateChange;
  /** Wall-clock time the Worker saw the change. */
  readonly atMs: number;
}

export interface VrrpDeps {
  /** State changes, in order; also what the IPVS sync daemon follows (master -> sync master role). */
  readonly onEvent?: (e: VrrpEvent) => void;
  readonly onLog?: (level: "info" | "warn" | "error", msg: string, data?: unknown) => void;
  readonly onNotify?: (o: NotifyOutcome) => void;
  readonly notify?: NotifyConfig;
  /** Link-state polling for tracked interfaces, ms (default 100). */
  readonly linkPollMs?: number;
  /**
   * SCHED_RR priority of the VRRP Worker thread, so CPU contention cannot delay adverts (keepalived's
   * vrrp_rt_priority). Default 10; null keeps the normal scheduler. Needs CAP_SYS_NICE (root on the box).
   */
  readonly realtimePriority?: number | null;
  /** How long start may take before it fails (default 10 s). */
  readonly startTimeoutMs?: number;
  /**
   * What the previous run of this daemon recorded (resume.ts): instances it was master of within their
   * down interval start as master again instead of as backup. Undefined or null: a fresh start.
   */
  readonly resume?: MastersRecord | null;
}

export interface VrrpHandle {
  /** A tracked object changed: "svc:NAME" for a virtual service's health, "if:NAME" for a link. */
  track(key: string, up: boolean): void;
  /** Console: override the priority (null clears) and/or resign mastership now. */
  admin(instance: string, request: { readonly priority?: number | null; readonly resign?: boolean }): void;
  /** Fresh counters and instance states from the Worker. */
  stats(timeoutMs?: number): Promise<WorkerStats>;
  /** The last counters the Worker pushed (it does so every second). */
  lastStats(): WorkerStats | null;
  /** Resign (priority 0), remove the VIPs, close the sockets, end the Worker. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves when the Worker died or stopped; carries the failure, if any. */
  readonly done: Promise<Error | null>;
}

export class VrrpStartError extends Error {
  override readonly name = "VrrpStartError";
}

/** Starts VRRP for these instances; resolves once the sockets are open and the core has started. */
export async function startVrrp(
  specs: readonly VrrpInstanceSpec[],
  groups: readonly SyncGroupSpec[],
  deps: VrrpDeps = {},
): Promise<VrrpHandle> {
  checkSpecs(specs, groups);
  const groupOf = new Map<string, string>();
  for (const g of groups) for (const m of g.instances) groupOf.set(m, g.name);
  const notifier = new Notifier(deps.notify ?? {}, groupOf, deps.onNotify);
  const wakeFd = eventfd();
  const worker = new Worker(workerUrl(import.meta.url, "src/vrrp/worker.ts", "vrrp-worker"));
  let latest: WorkerStats | null = null;
  const statsWaiters: Array<(s: WorkerStats) => void> = [];
  let settleReady: ((e: Error | null) => void) | null = null;
  let settleDone: (e: Error | null) => void = () => {};
  const done = new Promise<Error | null>((r) => {
    settleDone = r;
  });
  let finished = false;
  const finish = (err: Error | null) => {
    if (finished) return;
    finished = true;
    settleReady?.(err ?? new VrrpStartError("VRRP worker stopped before it was ready"));
    settleDone(err);
    worker.terminate();
    try {
      closeFd(wakeFd);
    } catch {
      // already closed
    }
  };
  worker.onmessage = (e: MessageEvent<WorkerReport>) => {
    const r = e.data;
    switch (r.kind) {
      case "ready":
        settleReady?.(null);
        settleReady = null;
        break;
      case "event": {
        const ev: VrrpEvent = { change: r.change, atMs: r.atMs };
        try {
          deps.onEvent?.(ev);
        } catch (err) {
          deps.onLog?.("error", "vrrp event listener threw", String(err));
        }
        notifier.onChange(r.change);
        break;
      }
      case "stats":
        latest = r.stats;
        for (const w of statsWaiters.splice(0)) w(r.stats);
        break;
      case "log":
        deps.onLog?.(r.level, r.msg, r.data);
        break;
      case "stopped":
        finish(null);
        break;
      case "failed":
        finish(new VrrpStartError(r.message));
        break;
    }
  };
  worker.onerror = (e) => finish(new VrrpStartError(`VRRP worker error: ${e.message}`));
  const postedBuffer = new SharedArrayBuffer(4);
  const posted = new Int32Array(postedBuffer);
  const post = (c: WorkerCommand) => {
    if (finished) return;
    Atomics.add(posted, 0, 1);
    worker.postMessage(c);
    eventfdSignal(wakeFd);
  };
  const ready = new Promise<Error | null>((r) => {
    settleReady = r;
  });
  worker.postMessage({
    kind: "init",
    specs,
    groups,
    wakeFd,
    posted: postedBuffer,
    linkPollMs: deps.linkPollMs ?? 100,
    realtimePriority: deps.realtimePriority === undefined ? 10 : deps.realtimePriority,
    resume: resumableMasters(deps.resume ?? null, specs, groups, Date.now()),
  } satisfies WorkerCommand);
  const startTimeout = setTimeout(
    () => finish(new VrrpStartError("VRRP worker did not start in time")),
    deps.startTimeoutMs ?? 10_000,
  );
  const err = await ready;
  clearTimeout(startTimeout);
  if (err) throw err;

  return {
    track: (key, up) => post({ kind: "track", key, up }),
    admin: (instance, request) =>
      post({
        kind: "admin",
        instance,
        ...(request.priority !== undefined ? { priority: request.priority } : {}),
        ...(request.resign ? { resign: true } : {}),
      }),
    stats: (timeoutMs = 2000) =>
      new Promise<WorkerStats>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("vrrp stats: no answer")), timeoutMs);
        statsWaiters.push((s) => {
          clearTimeout(t);
          resolve(s);
        });
        post({ kind: "stats" });
      }),
    lastStats: () => latest,
    stop: async (timeoutMs = 3000) => {
      post({ kind: "stop" });
      const t = setTimeout(() => finish(new VrrpStartError("VRRP worker did not stop in time")), timeoutMs);
      await done;
      clearTimeout(t);
      await Promise.race([notifier.idle(), Bun.sleep(timeoutMs)]);
    },
    done,
  };
}

// Messages between the main thread (VrrpHandle) and the VRRP Worker. Plain structured-clone values.
import type { DropCounters } from "./receive.ts";
import type { Role, StateChange, SyncGroupSpec, VrrpInstanceSpec } from "./types.ts";

export interface WorkerInit {
  readonly kind: "init";
  readonly specs: readonly VrrpInstanceSpec[];
  readonly groups: readonly SyncGroupSpec[];
  /** eventfd the main thread signals after posting a command, so the Worker's poll() wakes at once. */
  readonly wakeFd: number;
  /** Int32Array(1): commands the main thread has posted; the Worker yields until it has received them all. */
  readonly posted: SharedArrayBuffer;
  /** How often interface link state is read (ms). */
  readonly linkPollMs: number;
  /** SCHED_RR priority for the Worker thread (null = leave the default scheduler). */
  readonly realtimePriority: number | null;
  /** Instances that start as master (resumed after a restart of the daemon; see resume.ts). */
  readonly resume: readonly string[];
}

export type WorkerCommand =
  | WorkerInit
  | { readonly kind: "track"; readonly key: string; readonly up: boolean }
  | {
      readonly kind: "admin";
      readonly instance: string;
      readonly priority?: number | null;
      readonly resign?: boolean;
    }
  | { readonly kind: "stop" }
  | { readonly kind: "stats" };

export interface InstanceSnapshot {
  readonly name: string;
  readonly role: Role;
  readonly priority: number;
  readonly master: string | null;
  readonly masterAdverIntervalCs: number;
}

export interface WorkerStats {
  readonly received: number;
  readonly accepted: number;
  readonly sent: number;
  readonly sendErrors: number;
  /** recvmsg failures (e.g. ICMP errors queued on the socket after a unicast send). */
  readonly recvErrors: number;
  readonly drops: DropCounters;
  /** How late the Worker ran a due advert, ms (last LATENESS_WINDOW adverts). */
  readonly advertLatenessMs: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    readonly n: number;
  };
  readonly vipErrors: number;
  readonly instances: readonly InstanceSnapshot[];
}

export type WorkerReport =
  | { readonly kind: "ready" }
  | { readonly kind: "event"; readonly change: StateChange; readonly atMs: number }
  | { readonly kind: "stats"; readonly stats: WorkerStats }
  | {
      readonly kind: "log";
      readonly level: "info" | "warn" | "error";
      readonly msg: string;
      readonly data?: unknown;
    }
  | { readonly kind: "stopped" }
  | { readonly kind: "failed"; readonly message: string };

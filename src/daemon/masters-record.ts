// The daemon's side of resuming VRRP mastership after a restart (src/vrrp/resume.ts decides): which
// instances are master, refreshed every HEARTBEAT_MS while any is, in a small file on /run written
// atomically. A clean stop records no master, so only a crash or kill -9 leaves a record to resume from.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { encodeMasters, HEARTBEAT_MS, type MastersRecord, parseMasters } from "../vrrp/resume.ts";
import type { Role } from "../vrrp/types.ts";

/** The record the previous run left, or null (none, unreadable or malformed: a fresh start). */
export function readMastersRecord(path: string): MastersRecord | null {
  try {
    return parseMasters(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}

export class MastersRecorder {
  private readonly masters = new Set<string>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly onError: (reason: string) => void,
  ) {}

  /** A VRRP state change of `instance`. */
  onState(instance: string, role: Role): void {
    if (this.stopped) return;
    if (role === "master") this.masters.add(instance);
    else this.masters.delete(instance);
    this.write();
    if (this.masters.size > 0 && this.timer === null) {
      this.timer = setInterval(() => this.write(), HEARTBEAT_MS);
    } else if (this.masters.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** A clean stop: nothing to resume (the VIPs are being given up). */
  stop(): void {
    this.masters.clear();
    this.write();
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private write(): void {
    const tmp = `${this.path}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, encodeMasters({ heartbeatMs: Date.now(), masters: [...this.masters] }));
      renameSync(tmp, this.path);
    } catch (err) {
      // Without a record the next run starts fresh (as backup): safe, only slower. Said once.
      if (!this.stopped) this.onError(String(err));
      this.stopped = true;
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
    }
  }
}

// PID 1 inherits every orphaned process and must reap it, or zombies pile up. Bun reaps the children
// it spawned itself (and needs their exit status), so the reaper only takes a zombie that is still a
// zombie on the next sweep: by then Bun's own event loop has had its chance to collect it.
import { readdirSync, readFileSync } from "node:fs";
import { reapChild } from "../../ffi/system.ts";

const SWEEP_MS = 2_000;
const MAX_SCAN = 8192;

/** Pid, state and parent from /proc/<pid>/stat (the command may contain spaces and parens). Pure. */
export function parseStat(text: string): { pid: number; state: string; ppid: number } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const rest = text.slice(close + 2).split(" ");
  const state = rest[0];
  const ppid = Number(rest[1]);
  if (!Number.isInteger(pid) || state === undefined || !Number.isInteger(ppid)) return undefined;
  return { pid, state, ppid };
}

export function zombieChildren(): Set<number> {
  const zombies = new Set<number>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return zombies;
  }
  let scanned = 0;
  for (const e of entries) {
    if (scanned++ > MAX_SCAN) break;
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = parseStat(readFileSync(`/proc/${e}/stat`, "utf8"));
      if (s !== undefined && s.state === "Z" && s.ppid === process.pid) zombies.add(s.pid);
    } catch {
      // gone meanwhile
    }
  }
  return zombies;
}

export class Reaper {
  private previous = new Set<number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  reaped = 0;

  start(): void {
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  sweep(): number {
    const now = zombieChildren();
    let n = 0;
    for (const pid of now) {
      if (this.previous.has(pid) && reapChild(pid)) n++;
    }
    this.previous = now;
    this.reaped += n;
    return n;
  }
}

// Notify hooks with keepalived's argument convention: `notify` gets TYPE NAME STATE PRIORITY appended
// ("INSTANCE"|"GROUP", the name, "MASTER"|"BACKUP"|"FAULT"|"STOP", the priority); notify_master/_backup/
// _fault run as written. Never through a shell, time-bounded, run in order per hook owner, bounded queues.
import type { Role, StateChange } from "./types.ts";

export interface NotifyHooks {
  readonly notify?: readonly string[];
  readonly notify_master?: readonly string[];
  readonly notify_backup?: readonly string[];
  readonly notify_fault?: readonly string[];
}

export interface NotifyConfig {
  readonly instances?: Readonly<Record<string, NotifyHooks>>;
  readonly groups?: Readonly<Record<string, NotifyHooks>>;
  /** Per script run; the process is killed (SIGKILL) when it overruns. */
  readonly timeoutMs?: number;
}

export interface NotifyOutcome {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly error?: string;
}

export const MAX_QUEUED_PER_OWNER = 32;
const DEFAULT_TIMEOUT_MS = 10_000;

export function keepalivedState(role: Role): "MASTER" | "BACKUP" | "FAULT" | "STOP" {
  switch (role) {
    case "master":
      return "MASTER";
    case "backup":
      return "BACKUP";
    case "fault":
      return "FAULT";
    case "initialize":
      return "STOP";
  }
}

/** The argv vectors one state change runs for one owner (instance or group). */
export function hookCommands(
  hooks: NotifyHooks | undefined,
  type: "INSTANCE" | "GROUP",
  name: string,
  to: Role,
  priority: number,
): string[][] {
  if (!hooks) return [];
  const out: string[][] = [];
  const specific =
    to === "master"
      ? hooks.notify_master
      : to === "backup"
        ? hooks.notify_backup
        : to === "fault"
          ? hooks.notify_fault
          : undefined;
  if (specific?.length) out.push([...specific]);
  if (hooks.notify?.length) out.push([...hooks.notify, type, name, keepalivedState(to), String(priority)]);
  return out;
}

export async function runHook(argv: readonly string[], timeoutMs: number): Promise<NotifyOutcome> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn({ cmd: [...argv], stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  } catch (e) {
    return { argv, exitCode: null, timedOut: false, error: String(e) };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const exitCode = await proc.exited;
  clearTimeout(timer);
  return { argv, exitCode: timedOut ? null : exitCode, timedOut };
}

/** Runs hooks for state changes; one queue per owner keeps each owner's scripts in event order. */
export class Notifier {
  private readonly queues = new Map<string, string[][]>();
  private readonly running = new Set<string>();
  dropped = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly config: NotifyConfig,
    /** instance name -> its sync group */
    private readonly groupOfInstance: ReadonlyMap<string, string> = new Map(),
    private readonly onOutcome: (o: NotifyOutcome) => void = () => {},
  ) {}

  onChange(c: StateChange): void {
    const inst = hookCommands(this.config.instances?.[c.instance], "INSTANCE", c.instance, c.to, c.priority);
    this.enqueue(`i:${c.instance}`, inst);
    // A group's hooks run once per group transition: on the member that started it, not on each follower.
    const g = this.groupOfInstance.get(c.instance);
    if (c.group === undefined && g !== undefined) {
      this.enqueue(`g:${g}`, hookCommands(this.config.groups?.[g], "GROUP", g, c.to, c.priority));
    }
  }

  private enqueue(owner: string, cmds: string[][]): void {
    if (cmds.length === 0) return;
    const q = this.queues.get(owner) ?? [];
    for (const c of cmds) {
      if (q.length >= MAX_QUEUED_PER_OWNER) {
        q.shift();
        this.dropped++;
      }
      q.push(c);
    }
    this.queues.set(owner, q);
    void this.pump(owner);
  }

  private async pump(owner: string): Promise<void> {
    if (this.running.has(owner)) return;
    this.running.add(owner);
    try {
      for (;;) {
        const next = this.queues.get(owner)?.shift();
        if (!next) break;
        this.onOutcome(await runHook(next, this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS));
      }
    } finally {
      this.running.delete(owner);
      this.queues.delete(owner);
      if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves when no hook is running or queued (for orderly shutdown and tests). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}

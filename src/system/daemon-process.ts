// PID 1 runs the daemon (`fulcrum run`) as a child process and keeps it running: a crash or a kill -9 of
// the daemon costs a restart (its state is adopted from the kernel), never the box. The child is started
// early, while PID 1 still loads modules and mounts /data, and waits for a "go" line on its stdin before it
// reads the config (see SUPERVISED_ENV and awaitInitDone in src/cli/run.ts).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { EventSink } from "./pid1.ts";
import {
  type DaemonExit,
  DEFAULT_SUPERVISOR_LIMITS,
  describeExit,
  INITIAL_SUPERVISOR_STATE,
  onDaemonExit,
  type SupervisorLimits,
  type SupervisorState,
} from "./supervisor.ts";

/** Set in the daemon's environment by PID 1; the daemon then waits for "go" and acts on PID 1's behalf. */
export const SUPERVISED_ENV = "FULCRUM_SUPERVISED";
export const DAEMON_PID_FILE = "/run/fulcrum/daemon.pid";
/** The daemon's message to PID 1 once it is ready (over the IPC channel; cf. sd_notify READY=1). */
export const DAEMON_READY_MESSAGE = "ready";
/** How long the daemon gets to stop in order (VRRP priority 0, ...) before it is killed. */
const STOP_GRACE_MS = 5_000;

type Child = Bun.Subprocess<"pipe", "inherit", "inherit">;

export interface DaemonProcessOptions {
  readonly cmd: readonly string[];
  readonly events: EventSink;
  /** Asked at each unrequested exit: is this boot still counted by the boot loader? */
  readonly bootCounted: () => boolean;
  /** The supervisor decided the box must reboot. */
  readonly reboot: (reason: string) => void;
  /** The daemon said it is ready (after each start). */
  readonly onReady?: () => void;
  readonly limits?: SupervisorLimits;
  readonly pidFile?: string;
}

export class DaemonProcess {
  private proc: Child | undefined;
  private state: SupervisorState = INITIAL_SUPERVISOR_STATE;
  private released = false;
  private stopping = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pidFile: string;

  constructor(private readonly opts: DaemonProcessOptions) {
    this.pidFile = opts.pidFile ?? DAEMON_PID_FILE;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get restarts(): number {
    return this.state.restarts;
  }

  /** Starts the process; it loads its code and then waits until release(). */
  start(): void {
    if (this.stopping || this.proc !== undefined) return;
    const proc = Bun.spawn({
      cmd: [...this.opts.cmd],
      env: { ...process.env, [SUPERVISED_ENV]: "1" },
      stdin: "pipe",
      stdout: "inherit",
      stderr: "inherit",
      ipc: (message: unknown) => {
        if (message === DAEMON_READY_MESSAGE) this.opts.onReady?.();
      },
    });
    this.proc = proc;
    void proc.exited.then(() =>
      this.exited(proc, proc.exitCode, proc.signalCode === null ? null : String(proc.signalCode)),
    );
    this.writePidFile(proc.pid);
    if (this.released) this.sendGo(proc);
  }

  /** PID 1's duties are done (/data is mounted, the config is in place): let the daemon go on. */
  release(): void {
    this.released = true;
    if (this.proc !== undefined) this.sendGo(this.proc);
  }

  /** Passes a signal on (SIGHUP: reload); false when no daemon is running. */
  signal(sig: "SIGHUP"): boolean {
    if (this.proc === undefined) return false;
    this.proc.kill(sig);
    return true;
  }

  /** Stops the daemon in order (SIGTERM, then SIGKILL after a grace period); no restart afterwards. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    const proc = this.proc;
    if (proc === undefined) return;
    proc.kill("SIGTERM");
    const killed = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
    await proc.exited;
    clearTimeout(killed);
  }

  private sendGo(proc: Child): void {
    try {
      proc.stdin.write("go\n");
      void proc.stdin.end();
    } catch {
      // the process is already gone; its exit is handled in exited()
    }
  }

  private exited(proc: Child, code: number | null, signal: string | null): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    rmSync(this.pidFile, { force: true });
    if (this.stopping) return;
    const exit: DaemonExit = { atMs: Date.now(), code, signal, bootCounted: this.opts.bootCounted() };
    const { state, decision } = onDaemonExit(this.state, exit, this.opts.limits ?? DEFAULT_SUPERVISOR_LIMITS);
    this.state = state;
    this.opts.events.emit({
      event: "system.daemon_exited",
      reason: decision.reason,
      pid: proc.pid,
      code,
      signal,
      exit: describeExit(exit),
      decision: decision.kind,
      restarts: state.restarts,
    });
    if (decision.kind === "reboot") {
      this.opts.reboot(decision.reason);
      return;
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, decision.delayMs);
  }

  private writePidFile(pid: number): void {
    try {
      mkdirSync(this.pidFile.slice(0, this.pidFile.lastIndexOf("/")), { recursive: true });
      writeFileSync(this.pidFile, `${pid}\n`);
    } catch {
      // only a convenience for operators and tests (kill -9 $(cat /run/fulcrum/daemon.pid))
    }
  }
}

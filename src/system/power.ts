// Power-off and reboot, the way PID 1 must do them: stop the other processes, flush and unmount the
// data partition, then ask the kernel. Also maps the signals and buttons that request them.
import { readdirSync, readFileSync } from "node:fs";
import { MNT_DETACH, MS, mount, reboot, sync, umount } from "../../ffi/system.ts";
import { DATA_MOUNT_POINT } from "./datapart.ts";

export type PowerAction = "poweroff" | "reboot" | "halt";

/**
 * Signal conventions of PID 1 (as busybox init and sysvinit): SIGTERM and SIGINT (Ctrl-Alt-Del once
 * cadOff is set) reboot; SIGUSR2 and SIGPWR power off; SIGUSR1 halts.
 */
export const SIGNAL_ACTIONS: Readonly<Record<string, PowerAction>> = {
  SIGTERM: "reboot",
  SIGINT: "reboot",
  SIGUSR2: "poweroff",
  SIGPWR: "poweroff",
  SIGUSR1: "halt",
};

const TERM_GRACE_MS = 3_000;
const MAX_PROCESSES = 4096;

/** Other processes, by pid, excluding PID 1 and kernel threads (no cmdline). */
export function userProcesses(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (pids.length >= MAX_PROCESSES) break;
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`).byteLength > 0) pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM everyone, wait for them up to a grace period, SIGKILL the rest. */
export async function stopAllProcesses(
  graceMs = TERM_GRACE_MS,
): Promise<{ terminated: number; killed: number }> {
  const first = userProcesses();
  signalAll(first, "SIGTERM");
  const deadline = performance.now() + graceMs;
  let left = userProcesses();
  while (left.length > 0 && performance.now() < deadline) {
    await Bun.sleep(100);
    left = userProcesses();
  }
  signalAll(left, "SIGKILL");
  return { terminated: first.length - left.length, killed: left.length };
}

/** Flushes and detaches the data partition; if it is still busy, at least makes it read-only. */
export function releaseData(): string {
  sync();
  try {
    umount(DATA_MOUNT_POINT);
    return "unmounted";
  } catch {
    try {
      mount({ source: "", target: DATA_MOUNT_POINT, fstype: "", flags: MS.REMOUNT | MS.RDONLY, data: "" });
      umount(DATA_MOUNT_POINT, MNT_DETACH);
      return "remounted read-only";
    } catch (err) {
      sync();
      return `left mounted (${String(err)})`;
    }
  }
}

export function kernelPowerAction(action: PowerAction): never {
  sync();
  reboot(action === "reboot" ? "restart" : action === "halt" ? "halt" : "powerOff");
  // reboot(2) does not return on success; if it does, there is nothing sane left but to exit (panic).
  process.exit(1);
}

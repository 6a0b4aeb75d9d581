// MISC_CHECK: the operator's program decides. argv only, never a shell. Exit 0 = up, non-zero = down;
// with dynamic weight (keepalived's misc_dynamic) 1 = down and 2..255 = up with weight (code - 2).
// The program runs in its own process group so that a timeout kills it and everything it started:
// SIGTERM first, SIGKILL a moment later if the group is still there.
import { type ChildProcess, spawn } from "node:child_process";
import type { Checker, CheckTarget, ExecCheckSpec } from "../types.ts";
import { describeError, oneShot } from "./common.ts";

/** How long a timed-out program gets between SIGTERM and SIGKILL. */
export const EXEC_KILL_GRACE_MS = 500;
/** Bytes of output kept for the reason text. */
const MAX_OUTPUT_BYTES = 512;

export const execChecker: Checker<ExecCheckSpec> = (spec, target, signal) => {
  let child: ChildProcess | undefined;
  let output = "";
  const keep = (chunk: Buffer) => {
    if (output.length < MAX_OUTPUT_BYTES)
      output += chunk.toString("utf8").slice(0, MAX_OUTPUT_BYTES - output.length);
  };
  return oneShot(
    signal,
    spec.timeoutMs,
    (settle) => {
      const [program, ...args] = spec.argv;
      if (program === undefined) return settle(false, "exec check has an empty argv");
      child = spawn(program, args, {
        detached: true, // own process group: the kill reaches grandchildren too
        stdio: ["ignore", "pipe", "pipe"],
        env: checkEnv(target),
      });
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      child.once("error", (err) => settle(false, `cannot run ${program}: ${describeError(err)}`));
      child.once("close", (code, sig) => {
        const said = firstLine(output);
        if (code === null) return settle(false, `killed by ${sig ?? "a signal"}${said}`);
        if (!spec.dynamicWeight) return settle(code === 0, `exit ${code}${said}`);
        if (code === 0) return settle(true, `exit 0${said}`);
        if (code === 1) return settle(false, `exit 1${said}`);
        return settle(true, `exit ${code}${said}`, code - 2);
      });
    },
    () => killGroup(child),
  );
};

function killGroup(child: ChildProcess | undefined): void {
  if (child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
    return;
  const pid = child.pid;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is already gone
    }
  };
  signalGroup("SIGTERM");
  const timer = setTimeout(() => signalGroup("SIGKILL"), EXEC_KILL_GRACE_MS);
  child.once("exit", () => {
    // the leader is gone; its helpers may not be, so the SIGKILL still goes to the group
    clearTimeout(timer);
    signalGroup("SIGKILL");
  });
}

function checkEnv(target: CheckTarget): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    FULCRUM_CHECK_ADDRESS: target.address,
    FULCRUM_CHECK_PORT: String(target.port),
    FULCRUM_CHECK_FAMILY: String(target.family),
  };
}

function firstLine(output: string): string {
  const line = output.split("\n", 1)[0]!.trim();
  return line === "" ? "" : `: ${line.slice(0, 120)}`;
}

// Shared pieces of the checker adapters: timing, error wording, one-shot settling.
import type { CheckResult } from "../types.ts";

/** Milliseconds on a monotonic clock. */
export function monoMs(): number {
  return performance.now();
}

/** Errors from sockets in the words an operator expects ("connection refused", not ECONNREFUSED). */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "EHOSTUNREACH":
      return "host unreachable";
    case "ENETUNREACH":
      return "network unreachable";
    case "ETIMEDOUT":
      return "connect timed out";
    case "EADDRNOTAVAIL":
      return "source address not available";
    case "EPIPE":
      return "connection closed by peer";
  }
  const msg = typeof e?.message === "string" ? e.message : String(err);
  return code === "" || msg.startsWith(code) ? msg : `${code}: ${msg}`;
}

/**
 * Runs `body` with a settle function that wins once; later calls are ignored. An abort of `signal`
 * settles as a timeout. `cleanup` always runs exactly once after settling.
 */
export function oneShot(
  signal: AbortSignal,
  timeoutMs: number,
  body: (settle: (ok: boolean, reason: string, weight?: number) => void) => void,
  cleanup: () => void,
): Promise<CheckResult> {
  const started = monoMs();
  return new Promise<CheckResult>((resolve) => {
    let done = false;
    const settle = (ok: boolean, reason: string, weight?: number) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      try {
        cleanup();
      } catch {
        // cleanup of a socket that is already gone: nothing left to do
      }
      const latencyMs = Math.round((monoMs() - started) * 10) / 10;
      resolve(weight === undefined ? { ok, reason, latencyMs } : { ok, reason, latencyMs, weight });
    };
    const onAbort = () => settle(false, abortReason(signal, timeoutMs));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      body(settle);
    } catch (err) {
      settle(false, describeError(err));
    }
  });
}

function abortReason(signal: AbortSignal, timeoutMs: number): string {
  const r = signal.reason as { name?: string } | undefined;
  if (r?.name === "TimeoutError" || r === undefined) return `timeout after ${timeoutMs} ms`;
  return "check cancelled";
}

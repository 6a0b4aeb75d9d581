// Runs a helper program (modprobe, sfdisk, mkfs) with a deadline and bounded output capture.
// PID 1 never waits forever on a child: a hung helper is killed and reported as a timeout.

export interface ExecResult {
  readonly argv: readonly string[];
  /** Exit code; null when killed (timeout or signal). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly ms: number;
}

export interface ExecOptions {
  readonly timeoutMs: number;
  readonly stdin?: string;
  /** Bytes kept from each of stdout and stderr; the rest is dropped. */
  readonly maxOutputBytes?: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;

export async function exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([...argv], {
      stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { argv, code: 127, stdout: "", stderr: message, timedOut: false, ms: performance.now() - started };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, options.timeoutMs);
  const [stdout, stderr] = await Promise.all([
    bounded(proc.stdout as ReadableStream<Uint8Array>, max),
    bounded(proc.stderr as ReadableStream<Uint8Array>, max),
  ]);
  const code = await proc.exited;
  clearTimeout(timer);
  return {
    argv,
    code: timedOut || proc.signalCode !== null ? null : code,
    stdout,
    stderr,
    timedOut,
    ms: performance.now() - started,
  };
}

async function bounded(stream: ReadableStream<Uint8Array>, max: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for await (const chunk of stream) {
    if (kept >= max) continue; // keep draining so the child never blocks on a full pipe
    const part = chunk.subarray(0, max - kept);
    chunks.push(part);
    kept += part.byteLength;
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** One line for logs: "sfdisk --append /dev/vda: exit 1: <first stderr line>". */
export function describeFailure(r: ExecResult): string {
  const what = r.timedOut ? `timed out after ${Math.round(r.ms)} ms` : `exit ${r.code ?? "signal"}`;
  const detail = (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";
  return `${r.argv.join(" ")}: ${what}${detail ? `: ${detail}` : ""}`;
}

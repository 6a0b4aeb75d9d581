// Talking to a guest: its serial log (a file QEMU appends to, read live), its debug shell (lab images:
// a root shell on the virtio console, through a unix socket), and QMP (faults: stop/cont, set_link, quit).
import { existsSync, readFileSync } from "node:fs";

const POLL_MS = 50;

/** The serial console as captured by QEMU's chardev logfile. */
export class SerialLog {
  constructor(readonly path: string) {}

  text(): string {
    try {
      return readFileSync(this.path, "latin1").replaceAll("\r", "");
    } catch {
      return "";
    }
  }

  /** Waits until `pattern` appears (searching from byte `from`); throws with the log tail on timeout. */
  async waitFor(pattern: RegExp | string, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    const re = typeof pattern === "string" ? new RegExp(escapeRegExp(pattern)) : pattern;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = this.text().slice(from).match(re);
      if (m !== null) return m;
      if (performance.now() > deadline) {
        throw new Error(
          `serial ${this.path}: no ${re} within ${timeoutMs} ms; last lines:\n${this.tail(15)}`,
        );
      }
      await Bun.sleep(POLL_MS);
    }
  }

  /** Waits for an event line matching `pred` among the events after the first `skip`; returns it. */
  async waitForEvent(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs: number,
    skip = 0,
  ): Promise<Record<string, unknown>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events().slice(skip).find(pred);
      if (found !== undefined) return found;
      if (performance.now() > deadline) {
        throw new Error(
          `serial ${this.path}: no such event within ${timeoutMs} ms; last lines:\n${this.tail(15)}`,
        );
      }
      await Bun.sleep(POLL_MS);
    }
  }

  tail(lines: number): string {
    return this.text().split("\n").slice(-lines).join("\n");
  }

  /** fulcrum's JSON-ish event lines: `{"event":"x",...}` objects found on the console. */
  events(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.text().split("\n")) {
      const start = line.indexOf('{"event":');
      if (start < 0) continue;
      try {
        out.push(JSON.parse(line.slice(start)) as Record<string, unknown>);
      } catch {
        // a line cut by kernel messages; skip it
      }
    }
    return out;
  }
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface ShellResult {
  readonly code: number;
  readonly output: string;
}

/**
 * A root shell on the guest's virtio console (lab images). One command at a time: each is followed by
 * an end marker carrying its exit code, so output is cut exactly and the code is real.
 */
export class GuestShell {
  private buffer = "";
  private socket: Awaited<ReturnType<typeof Bun.connect>> | undefined;
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly socketPath: string) {}

  private async connect(timeoutMs: number): Promise<void> {
    if (this.socket !== undefined) return;
    const deadline = performance.now() + timeoutMs;
    while (!existsSync(this.socketPath)) {
      if (performance.now() > deadline) throw new Error(`no shell socket ${this.socketPath}`);
      await Bun.sleep(POLL_MS);
    }
    this.socket = await Bun.connect({
      unix: this.socketPath,
      socket: {
        data: (_s, chunk) => {
          this.buffer += new TextDecoder().decode(chunk).replaceAll("\r", "");
          if (this.buffer.length > 4 * 1024 * 1024) this.buffer = this.buffer.slice(-1024 * 1024);
        },
      },
    });
    // Quiet terminal: no echo, no prompt, no bracketed-paste noise. Then wait for the shell to answer.
    await this.runNow(
      "stty -echo 2>/dev/null; PS1=''; PS2=''; bind 'set enable-bracketed-paste off' 2>/dev/null; true",
      timeoutMs,
    );
  }

  /** Runs `command` (one line of sh) and returns its output and exit code. */
  run(command: string, timeoutMs = 30_000): Promise<ShellResult> {
    const next = this.queue.then(async () => {
      await this.connect(timeoutMs);
      return this.runNow(command, timeoutMs);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(command: string, timeoutMs: number): Promise<ShellResult> {
    if (command.includes("\n")) throw new Error("GuestShell.run takes one line");
    const id = `${Date.now().toString(36)}${++this.seq}`;
    // The marker is split in the command text so the tty echo (if any) never matches it.
    const begin = `__FLAB_B_${id}__`;
    const end = `__FLAB_E_${id}__`;
    const startAt = this.buffer.length;
    this.socket?.write(`echo "__FLAB_B""_${id}__"; ${command}\necho "__FLAB_E""_${id}__$?"\n`);
    const re = new RegExp(`${begin}\\n([\\s\\S]*?)${end}(\\d+)`);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = this.buffer.slice(startAt).match(re);
      if (m !== null) return { code: Number(m[2]), output: m[1] ?? "" };
      if (performance.now() > deadline) {
        throw new Error(
          `guest shell: '${command}' did not finish in ${timeoutMs} ms; got:\n${this.buffer.slice(startAt).slice(-2000)}`,
        );
      }
      await Bun.sleep(POLL_MS);
    }
  }

  /** Like run() but throws when the command fails; returns its output. */
  async check(command: string, timeoutMs = 30_000): Promise<string> {
    const r = await this.run(command, timeoutMs);
    if (r.code !== 0) throw new Error(`guest shell: '${command}' exited ${r.code}:\n${r.output}`);
    return r.output;
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
  }
}

/** QMP over a unix socket: one connection per request, which is simple and cheap enough. */
export async function qmp(
  socketPath: string,
  execute: string,
  args?: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<unknown> {
  let buf = "";
  let resolveLine: (() => void) | undefined;
  const sock = await Bun.connect({
    unix: socketPath,
    socket: {
      data: (_s, chunk) => {
        buf += new TextDecoder().decode(chunk);
        resolveLine?.();
      },
    },
  });
  const deadline = performance.now() + timeoutMs;
  const nextMessage = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ("event" in msg) continue; // asynchronous events are not answers
        return msg;
      }
      if (performance.now() > deadline) throw new Error(`qmp ${execute}: no answer within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        resolveLine = r;
        setTimeout(r, POLL_MS);
      });
    }
  };
  try {
    await nextMessage(); // greeting
    sock.write(`${JSON.stringify({ execute: "qmp_capabilities" })}\n`);
    await nextMessage();
    sock.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
    const answer = await nextMessage();
    if ("error" in answer) throw new Error(`qmp ${execute}: ${JSON.stringify(answer["error"])}`);
    return answer["return"];
  } finally {
    sock.end();
  }
}

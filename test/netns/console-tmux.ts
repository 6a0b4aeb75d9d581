// tmux as a test terminal: a private server per test file (its own socket file), panes of a fixed size,
// send-keys to type and capture-pane to read the screen. Always kill() in teardown.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../unit/console-fixtures.ts";

export class Tmux {
  readonly socket: string;
  private readonly sessions = new Set<string>();

  constructor(label: string) {
    // An explicit socket path (not -L), so kill() can remove it and nothing is left in /tmp/tmux-UID.
    this.socket = join(tmpdir(), `fco-tmux-${label}-${process.pid}.sock`);
  }

  private run(args: readonly string[]): { code: number; out: string; err: string } {
    const p = Bun.spawnSync(["tmux", "-S", this.socket, ...args], { stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
  }

  /** Starts a detached session running `command` (argv) at cols x rows. */
  start(session: string, command: readonly string[], cols = 80, rows = 24): void {
    rmSync(this.statusFile(session), { force: true });
    this.sessions.add(session);
    // tmux 3.3 does not always record #{pane_dead_status}, so a shell wrapper writes the exit status
    // to a file (a signal shows as 128+N).
    const wrapped = [
      "sh",
      "-c",
      `"$@"; echo $? > ${shellJoin([this.statusFile(session)])}`,
      "sh",
      ...command,
    ];
    const r = this.run([
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      String(cols),
      "-y",
      String(rows),
      shellJoin(wrapped),
    ]);
    if (r.code !== 0) throw new Error(`tmux new-session failed: ${r.err}`);
    this.run(["set-option", "-t", session, "remain-on-exit", "on"]);
    // A fixed window size that does not follow (absent) clients.
    this.run(["set-option", "-t", session, "window-size", "manual"]);
  }

  keys(session: string, ...keys: string[]): void {
    const r = this.run(["send-keys", "-t", session, ...keys]);
    if (r.code !== 0) throw new Error(`tmux send-keys failed: ${r.err}`);
  }

  /** Literal text, not key names. */
  type(session: string, text: string): void {
    const r = this.run(["send-keys", "-t", session, "-l", text]);
    if (r.code !== 0) throw new Error(`tmux send-keys failed: ${r.err}`);
  }

  /** Raw bytes, any value (NUL, 0xff, broken escape sequences): line noise. */
  bytes(session: string, bytes: Uint8Array): void {
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0"));
    const r = this.run(["send-keys", "-t", session, "-H", ...hex]);
    if (r.code !== 0) throw new Error(`tmux send-keys -H failed: ${r.err}`);
  }

  screen(session: string): string[] {
    const r = this.run(["capture-pane", "-p", "-t", session]);
    return r.code === 0 ? r.out.replace(/\n$/, "").split("\n") : [];
  }

  /** The pane's text with `history` lines of scrollback, wrapped lines joined (for log lines, not screens). */
  text(session: string, history = 5000): string {
    const r = this.run(["capture-pane", "-p", "-J", "-S", `-${history}`, "-t", session]);
    return r.code === 0 ? r.out : "";
  }

  resize(session: string, cols: number, rows: number): void {
    const r = this.run(["resize-window", "-t", session, "-x", String(cols), "-y", String(rows)]);
    if (r.code !== 0) throw new Error(`tmux resize-window failed: ${r.err}`);
  }

  /** The pane's terminal device, e.g. /dev/pts/3 (the wrapper shell holds it; the command inherits it). */
  paneTty(session: string): string {
    return this.run(["display-message", "-p", "-t", session, "#{pane_tty}"]).out.trim();
  }

  /** The exit status of the pane's command, or null while it runs. */
  paneExit(session: string): number | null {
    try {
      const text = readFileSync(this.statusFile(session), "utf8").trim();
      return text === "" ? null : Number(text);
    } catch {
      return null;
    }
  }

  /** Waits for the pane's command to end and returns its exit status. */
  async waitExit(session: string, timeoutMs = 10_000): Promise<number> {
    try {
      // Boxed: waitFor treats a bare 0 as "not yet".
      const exited = await waitFor<{ code: number } | null>(
        `${session} to exit`,
        () => {
          const code = this.paneExit(session);
          return code === null ? null : { code };
        },
        timeoutMs,
        50,
      );
      return exited?.code ?? -1;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- screen ---\n${this.screen(session).join("\n")}`);
    }
  }

  /** Waits until the screen satisfies `check`; the error shows the last screen seen. */
  async waitScreen(
    session: string,
    what: string,
    check: (text: string) => boolean,
    timeoutMs = 10_000,
  ): Promise<string> {
    let last = "";
    try {
      const text = await waitFor<string | null>(
        what,
        () => {
          last = this.screen(session).join("\n");
          return check(last) ? last : null;
        },
        timeoutMs,
        50,
      );
      return text ?? "";
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- screen ---\n${last}\n--------------`);
    }
  }

  kill(): void {
    this.run(["kill-server"]);
    rmSync(this.socket, { force: true });
    for (const session of this.sessions) rmSync(this.statusFile(session), { force: true });
  }

  private statusFile(session: string): string {
    return `${this.socket}.${session}.status`;
  }
}

function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

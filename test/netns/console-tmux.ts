// tmux as a test terminal: a private server per test file (its own socket name), panes of a fixed size,
// send-keys to type and capture-pane to read the screen. Always kill() in teardown.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../unit/console-fixtures.ts";

export class Tmux {
  readonly socket: string;

  constructor(label: string) {
    // An explicit socket path (not -L), so kill() can remove it and nothing is left in /tmp/tmux-UID.
    this.socket = join(tmpdir(), `fco-tmux-${label}-${process.pid}.sock`);
  }

  private run(args: readonly string[]): { code: number; out: string; err: string } {
    const p = Bun.spawnSync(["tmux", "-S", this.socket, ...args], { stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
  }

  /** Starts a detached session running `command` (argv, joined for tmux's shell) at cols x rows. */
  start(session: string, command: readonly string[], cols = 80, rows = 24): void {
    const r = this.run([
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      String(cols),
      "-y",
      String(rows),
      shellJoin(command),
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

  screen(session: string): string[] {
    const r = this.run(["capture-pane", "-p", "-t", session]);
    return r.code === 0 ? r.out.replace(/\n$/, "").split("\n") : [];
  }

  resize(session: string, cols: number, rows: number): void {
    const r = this.run(["resize-window", "-t", session, "-x", String(cols), "-y", String(rows)]);
    if (r.code !== 0) throw new Error(`tmux resize-window failed: ${r.err}`);
  }

  paneTty(session: string): string {
    return this.run(["display-message", "-p", "-t", session, "#{pane_tty}"]).out.trim();
  }

  paneDead(session: string): boolean {
    return this.run(["display-message", "-p", "-t", session, "#{pane_dead}"]).out.trim() === "1";
  }

  paneExitStatus(session: string): number | null {
    const s = this.run(["display-message", "-p", "-t", session, "#{pane_dead_status}"]).out.trim();
    return s === "" ? null : Number(s);
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
      return await waitFor<string | null>(
        what,
        () => {
          last = this.screen(session).join("\n");
          return check(last) ? last : null;
        },
        timeoutMs,
        50,
      ).then((text) => text ?? "");
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- screen ---\n${last}\n--------------`);
    }
  }

  kill(): void {
    this.run(["kill-server"]);
    rmSync(this.socket, { force: true });
  }
}

function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

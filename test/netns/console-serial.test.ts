// The box's serial console (log lines and the TUI sharing one port), on a tmux pane's terminal standing in
// for ttyS0: the pane runs only `sleep`, so the console is the only writer and every key typed reaches
// it. Also a port nobody reads (the tmux server stopped with SIGSTOP): the daemon must not block.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SERIAL_PROMPT, SerialConsole } from "../../src/console/serial.ts";
import { FakeBox, memoryLogger, waitFor } from "../unit/console-fixtures.ts";
import { Tmux } from "./console-tmux.ts";

const tmux = new Tmux("serial");
const box = new FakeBox();
const mem = memoryLogger();
let serial: SerialConsole | null = null;
let portDevice = "";
let tmuxPid = 0;

beforeAll(async () => {
  tmux.start("port", ["sleep", "3600"], 80, 24);
  const device = await waitFor("pane tty", () => tmux.paneTty("port"));
  tmuxPid = Number(
    Bun.spawnSync(["tmux", "-S", tmux.socket, "display-message", "-p", "#{pid}"]).stdout.toString().trim(),
  );
  serial = SerialConsole.open({
    device,
    snapshot: box.snapshot,
    actions: box,
    log: mem.log,
    actor: { who: "console:ttyS0", role: "admin" },
    refreshMs: 200,
    queueBytes: 16 * 1024,
    baud: 19200, // not a pty's default (38400), so the readback proves it was set
  });
  portDevice = device;
});

afterAll(() => {
  if (tmuxPid > 0) process.kill(tmuxPid, "SIGCONT");
  serial?.close();
  tmux.kill();
});

const screen = () => tmux.screen("port").join("\n");

describe("serial console: log lines and the TUI on one port", () => {
  test("the line runs at [system] console_baud (stty reads it back)", () => {
    const speed = Bun.spawnSync(["stty", "-F", portDevice, "speed"]).stdout.toString().trim();
    expect(speed).toBe("19200");
  });

  test("log lines print as they come; the prompt follows ready", async () => {
    serial!.write("[12:00:00.000] INFO: booting {}\n");
    await tmux.waitScreen("port", "a log line", (s) => s.includes("INFO: booting"));
    expect(screen()).not.toContain(SERIAL_PROMPT);
    serial!.markReady();
    const s = await tmux.waitScreen("port", "prompt", (t) => t.includes(SERIAL_PROMPT));
    expect(s).toContain(`fulcrum lb1.example ready: ${SERIAL_PROMPT}`);
    expect(serial!.state).toBe("lines");
  }, 30_000);

  test("noise on the line does not open the TUI or crash anything", async () => {
    tmux.bytes(
      "port",
      new Uint8Array([0x1b, 0x5b, 0x41, 0x00, 0xff, 0xfe, 0x1b, 0x5b, 0x39, 0x39, 0x3b, 0x07]),
    );
    tmux.type("port", " junk \x1b[999;999R");
    serial!.write("still logging\n");
    await tmux.waitScreen("port", "later log line", (s) => s.includes("still logging"));
    expect(serial!.state).toBe("lines");
  }, 30_000);

  test("Enter opens the TUI at 80x24; log lines are held back while it is up", async () => {
    tmux.keys("port", "Enter");
    const s = await tmux.waitScreen(
      "port",
      "overview",
      (t) => t.includes("[1 Overview]") && t.includes("VI_db"),
    );
    expect(serial!.state).toBe("tui");
    expect(s.split("\n")).toHaveLength(24);
    expect(s).toContain("console:ttyS0 (admin)");
    for (let i = 0; i < 5; i++) serial!.write(`held line ${i}\n`);
    tmux.keys("port", "3");
    await tmux.waitScreen("port", "events screen", (t) => t.includes("[3 Events]"));
    expect(screen()).not.toContain("held line");
  }, 30_000);

  test("an action from the serial TUI reaches the handler as the console's admin", async () => {
    tmux.keys("port", "2", "d");
    await waitFor("drain", () => box.performed.some((p) => p.action.kind === "drain"));
    expect(box.performed.at(-1)).toEqual({
      actor: { who: "console:ttyS0", role: "admin" },
      action: { kind: "drain", service: "web", real: "10.0.0.2:80" },
    });
  }, 30_000);

  test("q returns to the prompt and says how many lines were held", async () => {
    tmux.keys("port", "q");
    const s = await tmux.waitScreen(
      "port",
      "prompt again",
      (t) => t.includes("5 log line(s) were held back") && t.trimEnd().endsWith(SERIAL_PROMPT),
    );
    expect(s).not.toContain("[1 Overview]");
    expect(serial!.state).toBe("lines");
    serial!.write("after the TUI\n");
    await tmux.waitScreen("port", "log lines flow again", (t) => t.includes("after the TUI"));
  }, 30_000);

  test("Ctrl-D also leaves the TUI", async () => {
    tmux.keys("port", "Enter");
    await tmux.waitScreen("port", "overview", (t) => t.includes("[1 Overview]"));
    tmux.keys("port", "C-d");
    await waitFor("lines mode", () => serial!.state === "lines", 10_000);
    await tmux.waitScreen("port", "prompt", (t) => t.trimEnd().endsWith(SERIAL_PROMPT));
  }, 30_000);

  test("a port nobody reads does not block: output is bounded and dropped lines are counted", async () => {
    process.kill(tmuxPid, "SIGSTOP");
    let stalled = false;
    try {
      const line = `${"x".repeat(190)}\n`;
      let lagMs = 0;
      const start = performance.now();
      // 2 MB of log lines while the reader is stopped: far beyond the pty's buffer and the 16 KiB queue.
      for (let i = 0; i < 10_000; i++) {
        serial!.write(line);
        if (i % 1000 === 0) {
          const t0 = performance.now();
          await Bun.sleep(1);
          lagMs = Math.max(lagMs, performance.now() - t0);
        }
      }
      stalled = true;
      // Generous: a blocked write would not return at all.
      expect(performance.now() - start).toBeLessThan(20_000);
      expect(lagMs).toBeLessThan(2_000);
    } finally {
      process.kill(tmuxPid, "SIGCONT");
    }
    expect(stalled).toBe(true);
    // Once the reader is back, a key shows the prompt with the count of lines not shown (keys typed
    // while tmux works through the backlog may come late, so one is typed each second).
    let typedAt = 0;
    const s = await tmux.waitScreen(
      "port",
      "dropped note",
      (t) => {
        if (Date.now() - typedAt > 1000) {
          typedAt = Date.now();
          tmux.type("port", "x");
        }
        return /\[\d+ log line\(s\) not shown/.test(t);
      },
      20_000,
    );
    const dropped = Number(/\[(\d+) log line\(s\) not shown/.exec(s)?.[1]);
    expect(dropped).toBeGreaterThan(9_000);
    expect(s.trimEnd().endsWith(SERIAL_PROMPT)).toBe(true);
  }, 60_000);
});

describe("serial console: idle timeout", () => {
  test("a TUI left without a key returns to the prompt by itself", async () => {
    tmux.start("idle", ["sleep", "3600"], 80, 24);
    const device = await waitFor("pane tty", () => tmux.paneTty("idle"));
    const idle = SerialConsole.open({
      device,
      snapshot: box.snapshot,
      actions: box,
      log: mem.log,
      refreshMs: 200,
      idleMs: 1500,
    });
    try {
      idle.markReady();
      tmux.keys("idle", "Enter");
      await tmux.waitScreen("idle", "overview", (t) => t.includes("[1 Overview]"));
      expect(idle.state).toBe("tui");
      const s = await tmux.waitScreen(
        "idle",
        "idle note",
        (t) => t.includes("console closed: no key for a while"),
        15_000,
      );
      expect(s.trimEnd().endsWith(SERIAL_PROMPT)).toBe(true);
      expect(idle.state).toBe("lines");
    } finally {
      idle.close();
    }
  }, 30_000);
});

// The console TUI on a terminal device, as on the box's serial console: the test opens a tmux pane's
// tty (the pane runs only `sleep`, so every key typed into it reaches the console), types with
// send-keys, reads the screen with capture-pane, and checks what reached the ActionHandler.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTtyConsole, type TtyConsole } from "../../src/console/tty.ts";
import { FakeBox, memoryLogger, waitFor } from "../unit/console-fixtures.ts";
import { Tmux } from "./console-tmux.ts";

const tmux = new Tmux("tty");
const box = new FakeBox();
const mem = memoryLogger();
let tty: TtyConsole | null = null;
let closedByConsole = false;

beforeAll(async () => {
  tmux.start("serial", ["sleep", "3600"], 80, 24);
  const device = await waitFor("pane tty", () => tmux.paneTty("serial"));
  tty = startTtyConsole({
    device,
    snapshot: box.snapshot,
    actions: box,
    actor: { who: "console:ttyS0", role: "admin" },
    log: mem.log,
    allowQuit: false,
    refreshMs: 200,
    onClose: () => {
      closedByConsole = true;
    },
  });
});

afterAll(() => {
  tty?.close();
  tmux.kill();
});

describe("serial console TUI", () => {
  test("draws the overview at 80x24 without colour", async () => {
    const screen = await tmux.waitScreen(
      "serial",
      "overview",
      (s) => s.includes("[1 Overview]") && s.includes("VI_db"),
    );
    const lines = screen.split("\n");
    expect(lines).toHaveLength(24);
    expect(lines[0]).toMatch(/^fulcrum {2}lb1\.example\s+0\.1\.0 slot a {2}up 3d 04:05:06$/);
    expect(lines[1]).toContain("console:ttyS0 (admin)");
    expect(lines.at(-1)).toContain("f failover");
    expect(lines.at(-1)).not.toContain("q quit");
  }, 30_000);

  test("q does not end the serial console", async () => {
    tmux.keys("serial", "q");
    await tmux.waitScreen("serial", "refusal", (s) => s.includes("it stays on"));
    expect(closedByConsole).toBe(false);
  }, 30_000);

  test("fail over an instance with a typed priority and confirmation, then take it back", async () => {
    tmux.keys("serial", "Down", "f");
    await tmux.waitScreen("serial", "priority prompt", (s) =>
      s.includes("Fail over VI_db: drop priority to"),
    );
    tmux.keys("serial", "BSpace");
    tmux.type("serial", "10");
    tmux.keys("serial", "Enter");
    await tmux.waitScreen(
      "serial",
      "confirmation",
      (s) => s.includes("VI_db runs at priority 10") && s.includes("[y]es / [n]o"),
    );
    tmux.keys("serial", "y");
    await waitFor("failover to reach the handler", () =>
      box.performed.some((p) => p.action.kind === "failover"),
    );
    expect(box.performed.at(-1)).toEqual({
      actor: { who: "console:ttyS0", role: "admin" },
      action: { kind: "failover", instance: "VI_db", priority: 10 },
    });
    await tmux.waitScreen("serial", "new priority shown", (s) =>
      /> VI_db\s+eth1\s+52 BACKUP\s+10\/100/.test(s),
    );
    tmux.keys("serial", "t");
    await tmux.waitScreen("serial", "take-back confirmation", (s) => s.includes("Take back VI_db?"));
    tmux.keys("serial", "y");
    await tmux.waitScreen("serial", "priority restored", (s) => /> VI_db\s+eth1\s+52 BACKUP\s+100 /.test(s));
    expect(box.performed.at(-1)?.action).toEqual({ kind: "failback", instance: "VI_db" });
    const logged = mem.lines().filter((l) => l["event"] === "console.action" && l["who"] === "console:ttyS0");
    expect(logged.map((l) => (l["action"] as { kind: string }).kind)).toEqual(["failover", "failback"]);
  }, 30_000);

  test("Escape cancels a prompt (lone ESC resolved by timeout)", async () => {
    tmux.keys("serial", "2", "w");
    await tmux.waitScreen("serial", "weight prompt", (s) => s.includes("Weight for 10.0.0.2:80 in web"));
    tmux.keys("serial", "Escape");
    await tmux.waitScreen("serial", "cancelled", (s) => s.includes("Cancelled."));
  }, 30_000);

  test("check history of a real server", async () => {
    tmux.keys("serial", "End", "Up", "Enter");
    const s = await tmux.waitScreen(
      "serial",
      "history",
      (t) => t.includes("[2 Services]") && t.includes("Check history"),
    );
    expect(s).toContain("Real     10.0.0.4:80");
    expect(s).toMatch(/FAIL\s+3000ms\s+connect timeout after 3000 ms/);
    tmux.keys("serial", "Escape");
    await tmux.waitScreen("serial", "back to services", (t) => t.includes("Prot LocalAddress:Port"));
  }, 30_000);

  test("live data: a changed snapshot shows up without a key press", async () => {
    box.findReal("web", "10.0.0.2:80")!.activeConns = 4242;
    await tmux.waitScreen("serial", "refresh", (s) => /10\.0\.0\.2:80\s+Route\s+5\s+4242/.test(s));
  }, 30_000);

  test("redraws cleanly after a resize", async () => {
    tmux.resize("serial", 120, 40);
    const s = await tmux.waitScreen("serial", "120x40", (t) => (t.split("\n")[2] ?? "") === "-".repeat(120));
    const lines = s.split("\n");
    expect(lines).toHaveLength(40);
    expect(lines[0]!.trimEnd()).toHaveLength(120);
    expect(lines.at(-1)).toContain("j/k select");
    tmux.resize("serial", 80, 24);
    await tmux.waitScreen("serial", "80x24 again", (t) => (t.split("\n")[2] ?? "") === "-".repeat(80));
  }, 30_000);
});

describe("TUI on the process's own terminal (stdin/stdout)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fco-stdin-"));
  const actionsFile = join(dir, "actions.jsonl");
  const fixture = join(import.meta.dir, "console-tty-fixture.ts");

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("keys act, SIGWINCH resizes, q exits 0", async () => {
    tmux.start("stdin", [process.execPath, fixture, actionsFile], 80, 24);
    await tmux.waitScreen("stdin", "overview", (s) => s.includes("console:stdin (admin)"));
    tmux.keys("stdin", "2", "j", "j", "e");
    const line = await waitFor("enable in the actions file", () =>
      existsSync(actionsFile) ? readFileSync(actionsFile, "utf8").trim() : "",
    );
    expect(JSON.parse(line)).toEqual({
      actor: { who: "console:stdin", role: "admin" },
      action: { kind: "enable", service: "web", real: "10.0.0.4:80" },
    });
    await tmux.waitScreen("stdin", "result", (s) => s.includes("OK: enable web 10.0.0.4:80"));
    tmux.resize("stdin", 90, 30);
    const s = await tmux.waitScreen("stdin", "90x30", (t) => (t.split("\n")[2] ?? "") === "-".repeat(90));
    expect(s.split("\n")).toHaveLength(30);
    tmux.keys("stdin", "q");
    expect(await tmux.waitExit("stdin")).toBe(0);
  }, 30_000);
});

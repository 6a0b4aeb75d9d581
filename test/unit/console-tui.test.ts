import { describe, expect, test } from "bun:test";
import pino from "pino";
import { KeyDecoder } from "../../src/console/tui/keys.ts";
import { type Intent, initialUi, reduce, type UiState } from "../../src/console/tui/model.ts";
import { Painter } from "../../src/console/tui/painter.ts";
import { render } from "../../src/console/tui/render.ts";
import { TuiSession } from "../../src/console/tui/session.ts";
import type { BoxSnapshot } from "../../src/state/snapshot.ts";
import { FakeBox } from "./console-fixtures.ts";

function press(
  ui: UiState,
  keys: readonly string[],
  snapshot: BoxSnapshot,
  rows = 24,
): { ui: UiState; intents: Intent[] } {
  const intents: Intent[] = [];
  for (const key of keys) {
    const step = reduce(ui, { kind: "key", key }, snapshot, rows);
    ui = step.ui;
    intents.push(...step.intents);
  }
  return { ui, intents };
}

function screenText(lines: readonly string[]): string {
  return lines.join("\n");
}

describe("KeyDecoder", () => {
  test("printable characters, control keys and CSI/SS3 sequences", () => {
    const d = new KeyDecoder();
    expect(d.feed("ab\r\x1b[A\x1bOB\x1b[5~\x1b[6~\x7f\t\x0c\x1b[Z").keys).toEqual([
      "a",
      "b",
      "enter",
      "up",
      "down",
      "pageup",
      "pagedown",
      "backspace",
      "tab",
      "C-l",
      "backtab",
    ]);
  });

  test("CR LF from a cooked client is one Enter", () => {
    expect(new KeyDecoder().feed("x\r\ny\n").keys).toEqual(["x", "enter", "y", "enter"]);
  });

  test("an escape sequence split across reads is reassembled", () => {
    const d = new KeyDecoder();
    const first = d.feed("\x1b");
    expect(first).toEqual({ keys: [], waiting: true });
    expect(d.feed("[").waiting).toBe(true);
    expect(d.feed("B").keys).toEqual(["down"]);
  });

  test("a lone ESC becomes Escape on flush", () => {
    const d = new KeyDecoder();
    expect(d.feed("\x1b").waiting).toBe(true);
    expect(d.flush()).toEqual(["escape"]);
    expect(d.flush()).toEqual([]);
  });

  test("unknown and overlong sequences are dropped without stalling input", () => {
    const d = new KeyDecoder();
    expect(d.feed("\x1b[99~q").keys).toEqual(["q"]);
    expect(d.feed(`\x1b[${"1;".repeat(20)}`).keys).toEqual([]);
    expect(d.feed("x").keys.at(-1)).toBe("x");
  });
});

describe("render", () => {
  const box = new FakeBox();
  const admin = initialUi("admin", "ops@ssh:192.0.2.50", true);

  test("every screen is exactly 80x24 of printable ASCII", () => {
    for (const keys of [[], ["2"], ["2", "enter"], ["3"], ["4"], ["?"], ["R"]]) {
      const { ui } = press(admin, keys, box.snapshot());
      const lines = render(box.snapshot(), ui, 80, 24);
      expect(lines).toHaveLength(24);
      for (const line of lines) {
        expect(line).toHaveLength(80);
        expect(line).toMatch(/^[\x20-\x7e]*$/);
      }
    }
  });

  test("overview shows host, version, slot, uptime and VRRP state, priority, master and VIPs", () => {
    const text = screenText(render(box.snapshot(), admin, 80, 24));
    expect(text).toContain("lb1.example");
    expect(text).toContain("0.1.0 (build abc1234)");
    expect(text).toMatch(/Slot\s+a/);
    expect(text).toContain("3d 04:05:06");
    expect(text).toMatch(/> VI_web\s+eth0\s+51 MASTER\s+150\s+192\.0\.2\.2\s+192\.0\.2\.10\/32 \+1/);
    expect(text).toMatch(/VI_db\s+eth1\s+52 BACKUP\s+100\s+198\.51\.100\.3/);
    expect(text).toContain("3 up, 1 down");
  });

  test("services screen uses the ipvsadm -Ln layout with a status column", () => {
    const { ui } = press(admin, ["2"], box.snapshot());
    const lines = render(box.snapshot(), ui, 80, 24).map((l) => l.trimEnd());
    expect(lines).toContain("Prot LocalAddress:Port Scheduler Flags");
    expect(lines).toContain("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Status");
    expect(lines).toContain("TCP  192.0.2.10:80 wlc");
    expect(lines).toContain("> -> 10.0.0.2:80                  Route   5      3          12         up");
    expect(lines).toContain("  -> 10.0.0.4:80                  Route   0      0          0          DOWN");
    expect(lines).toContain("UDP  [2001:db8::53]:53 rr persistent 300");
    expect(lines).toContain("  -> [2001:db8::1:2]:53           Masq    1      3          12         up");
  });

  test("r cycles the table through rates and totals", () => {
    const rate = press(admin, ["2", "r"], box.snapshot()).ui;
    const rateText = screenText(render(box.snapshot(), rate, 80, 24));
    expect(rateText).toMatch(/Prot LocalAddress:Port\s+CPS\s+InPPS\s+OutPPS\s+InBPS\s+OutBPS/);
    expect(rateText).toMatch(/10\.0\.0\.2:80\s+4\s+40\s+0\s+5200\s+0/);
    const stats = press(rate, ["r"], box.snapshot()).ui;
    expect(screenText(render(box.snapshot(), stats, 80, 24))).toMatch(/10\.0\.0\.2:80\s+1234\s+1500000\s+0/);
  });

  test("a real server's history lists checks newest first with reasons and latency", () => {
    const { ui } = press(admin, ["2", "j", "j", "enter"], box.snapshot());
    const text = screenText(render(box.snapshot(), ui, 80, 24));
    expect(text).toContain("Real     10.0.0.4:80  Route  status DOWN");
    expect(text).toMatch(/FAIL\s+3000ms\s+connect timeout after 3000 ms/);
  });

  test("events follow the tail and scroll back", () => {
    const follow = screenText(render(box.snapshot(), press(admin, ["3"], box.snapshot()).ui, 80, 24));
    expect(follow).toContain("event number 30");
    expect(follow).not.toContain("event number 1\n");
    const back = press(admin, ["3", "home"], box.snapshot()).ui;
    const text = screenText(render(box.snapshot(), back, 80, 24));
    expect(text).toContain("event number 1 ");
    expect(text).not.toContain("event number 30");
  });

  test("l toggles the events screen to the log tail", () => {
    const ui = press(admin, ["3", "l"], box.snapshot()).ui;
    const text = screenText(render(box.snapshot(), ui, 80, 24));
    expect(text).toMatch(/WARN\s+health\.down: 10\.0\.0\.4:80 connect timeout/);
    expect(text).not.toContain("event number 30");
    const back = press(ui, ["l"], box.snapshot()).ui;
    expect(screenText(render(box.snapshot(), back, 80, 24))).toContain("event number 30");
  });

  describe("update screen (from UpdateSnapshot)", () => {
    const updateScreen = (update: BoxSnapshot["update"], role: "admin" | "viewer" = "admin") => {
      const b = new FakeBox();
      b.update = update;
      const ui = press(initialUi(role, "ops@ssh:192.0.2.50", true), ["4"], b.snapshot()).ui;
      const lines = render(b.snapshot(), ui, 80, 24);
      expect(lines).toHaveLength(24);
      for (const line of lines) expect(line).toHaveLength(80);
      return screenText(lines);
    };

    test("writing: state, bar, bytes of total, rate and time left, boot slot and the target slot", () => {
      const text = updateScreen({
        bootSlot: "a",
        state: "writing",
        progress: { bytes: 150 * 1024 * 1024, total: 400 * 1024 * 1024, rateBps: 5 * 1024 * 1024 },
        lastResult: "",
      });
      expect(text).toContain("[4 Update]");
      expect(text).toContain("State       writing the image to the other slot");
      expect(text).toContain("Boot slot   a; updates go to slot b, a stays as fallback");
      expect(text).toMatch(/Progress {4}\[#+\.+\] {2}37%/);
      // 250 MiB left at 5 MiB/s: 50 s.
      expect(text).toContain("150.0 MiB of 400.0 MiB at 5.0 MiB/s, 0:50 left");
      expect(text).toContain("Last result -");
    });

    test("every state has its own words", () => {
      const words = {
        idle: "idle: no update in progress",
        downloading: "downloading the image",
        verifying: "verifying the image's signature",
        writing: "writing the image to the other slot",
        "pending-reboot": "written: boots at the next reboot",
        failed: "FAILED (the running slot is untouched)",
      } as const;
      for (const [state, text] of Object.entries(words)) {
        expect(
          updateScreen({ bootSlot: "B", state: state as keyof typeof words, progress: null, lastResult: "" }),
        ).toContain(`State       ${text}`);
      }
    });

    test("long downloads show hours; a stalled one says so and has no time left", () => {
      const slow = updateScreen({
        bootSlot: "b",
        state: "downloading",
        progress: { bytes: 0, total: 1024 * 1024 * 1024, rateBps: 64 * 1024 },
        lastResult: "",
      });
      expect(slow).toContain("0 B of 1.0 GiB at 64.0 KiB/s, 4:33:04 left");
      expect(slow).toContain("updates go to slot a");
      const stalled = updateScreen({
        bootSlot: "b",
        state: "downloading",
        progress: { bytes: 512, total: 1024, rateBps: 0 },
        lastResult: "",
      });
      expect(stalled).toContain("512 B of 1.0 KiB stalled (0 B/s), ? left");
    });

    test("a total not known yet shows bytes so far and no bar", () => {
      const text = updateScreen({
        bootSlot: "a",
        state: "downloading",
        progress: { bytes: 3 * 1024 * 1024, total: 0, rateBps: 1024 * 1024 },
        lastResult: "",
      });
      expect(text).toContain("3.0 MiB so far at 1.0 MiB/s");
      expect(text).not.toContain("Progress ");
      expect(text).not.toContain(" left");
    });

    test("done, then pending reboot: the last result and what to do next (admin vs viewer)", () => {
      const pending = {
        bootSlot: "a",
        state: "pending-reboot",
        progress: { bytes: 1000, total: 1000, rateBps: 100 },
        lastResult: "0.2.0 written to slot b, verified (sha256 ok)",
      } as const;
      const admin = updateScreen(pending);
      expect(admin).toContain("100%");
      expect(admin).toContain("0:00 left");
      expect(admin).toContain("Last result 0.2.0 written to slot b, verified (sha256 ok)");
      expect(admin).toContain("reboot (B) boots it");
      expect(admin).toContain("B reboot");
      const viewer = updateScreen(pending, "viewer");
      expect(viewer).toContain("a reboot boots it");
      expect(viewer).not.toContain("B reboot");
    });

    test("failed: the reason, and the way to try again for an admin", () => {
      const text = updateScreen({
        bootSlot: "a",
        state: "failed",
        progress: null,
        lastResult: "signature check failed: unknown key",
      });
      expect(text).toContain("Last result signature check failed: unknown key");
      expect(text).toContain("u applies an update from a URL or a path on the box (try again).");
    });

    test("a development run has no other slot; nonsense numbers do not break the frame", () => {
      const dev = updateScreen({ bootSlot: "dev", state: "idle", progress: null, lastResult: "" });
      expect(dev).toMatch(/Boot slot {3}dev +\n/);
      updateScreen({
        bootSlot: "a",
        state: "writing",
        progress: { bytes: Number.NaN, total: -5, rateBps: Number.POSITIVE_INFINITY },
        lastResult: "x".repeat(500),
      });
      updateScreen({
        bootSlot: "a",
        state: "writing",
        progress: { bytes: 5000, total: 1000, rateBps: 10 },
        lastResult: "",
      });
    });
  });

  test("viewers see no admin key hints", () => {
    const viewer = initialUi("viewer", "watch@ssh:192.0.2.9", true);
    const text = screenText(render(box.snapshot(), press(viewer, ["2"], box.snapshot()).ui, 80, 24));
    expect(text).not.toContain("d drain");
    expect(text).toContain("(viewer)");
  });

  test("long tables scroll a page at a time and keep the selection visible", () => {
    const big = new FakeBox();
    const template = big.services[0]!;
    for (let i = 0; i < 12; i++) {
      big.services.push({
        ...template,
        name: `svc${i}`,
        label: `TCP  192.0.2.${20 + i}:80`,
        reals: template.reals.map((r) => ({ ...r })),
      });
    }
    const first = screenText(render(big.snapshot(), press(admin, ["2"], big.snapshot()).ui, 80, 24));
    expect(first).toContain("more lines below");
    const last = press(admin, ["2", "end"], big.snapshot()).ui;
    const text = screenText(render(big.snapshot(), last, 80, 24));
    expect(text).toContain("> -> 10.0.0.4:80");
    expect(text).toContain("TCP  192.0.2.31:80");
    expect(text).not.toContain("TCP  192.0.2.10:80 wlc");
  });

  test("small and large terminals", () => {
    const tiny = render(box.snapshot(), admin, 30, 8);
    expect(tiny).toHaveLength(8);
    expect(tiny[0]).toContain("too small");
    const wide = render(box.snapshot(), admin, 132, 50);
    expect(wide).toHaveLength(50);
    expect(wide.every((l) => l.length === 132)).toBe(true);
  });
});

describe("reducer", () => {
  const box = new FakeBox();
  const admin = initialUi("admin", "ops", true);

  test("drain, enable and weight ask for actions on the selected real server", () => {
    expect(press(admin, ["2", "j", "d"], box.snapshot()).intents).toEqual([
      { kind: "perform", action: { kind: "drain", service: "web", real: "10.0.0.3:80" } },
    ]);
    const { ui, intents } = press(admin, ["2", "e"], box.snapshot());
    expect(intents).toEqual([
      { kind: "perform", action: { kind: "enable", service: "web", real: "10.0.0.2:80" } },
    ]);
    // one action at a time
    expect(press(ui, ["d"], box.snapshot()).intents).toEqual([]);
    const weighted = press(admin, ["2", "end", "w", "4", "2", "backspace", "7", "enter"], box.snapshot());
    expect(weighted.intents).toEqual([
      { kind: "perform", action: { kind: "weight", service: "dns", real: "[2001:db8::1:2]:53", weight: 47 } },
    ]);
  });

  test("bad weights are refused without an action", () => {
    const step = press(admin, ["2", "w", "9", "9", "9", "9", "9", "9", "enter"], box.snapshot());
    expect(step.intents).toEqual([]);
    expect(step.ui.message).toContain("0 to 65535");
  });

  test("failover asks for a priority and a confirmation; take back confirms too", () => {
    const prompt = press(admin, ["j", "f"], box.snapshot());
    expect(prompt.ui.modal?.kind).toBe("prompt");
    const confirmStep = press(prompt.ui, ["backspace", "5", "0", "enter"], box.snapshot());
    expect(confirmStep.intents).toEqual([]);
    expect(confirmStep.ui.modal?.kind).toBe("confirm");
    expect(press(confirmStep.ui, ["y"], box.snapshot()).intents).toEqual([
      { kind: "perform", action: { kind: "failover", instance: "VI_db", priority: 50 } },
    ]);
    expect(press(confirmStep.ui, ["n"], box.snapshot()).intents).toEqual([]);
    expect(press(admin, ["t", "y"], box.snapshot()).intents).toEqual([
      { kind: "perform", action: { kind: "failback", instance: "VI_web" } },
    ]);
  });

  test("reload shows the diff from a dry run before applying", () => {
    const dry = press(admin, ["R"], box.snapshot());
    expect(dry.intents).toEqual([{ kind: "perform", action: { kind: "reload", confirm: false } }]);
    const withDiff = reduce(
      dry.ui,
      {
        kind: "result",
        action: { kind: "reload", confirm: false },
        result: { ok: true, message: "2 changes", diff: box.reloadDiff },
      },
      box.snapshot(),
      24,
    );
    expect(withDiff.ui.modal?.kind).toBe("confirm");
    const text = screenText(render(box.snapshot(), withDiff.ui, 80, 24));
    expect(text).toContain("+ service dns (UDP  192.0.2.53:53)");
    expect(text).toContain("[y]es / [n]o");
    expect(press(withDiff.ui, ["y"], box.snapshot()).intents).toEqual([
      { kind: "perform", action: { kind: "reload", confirm: true } },
    ]);
  });

  test("update and reboot need a confirmation", () => {
    const update = press(admin, ["4", "u", ..."/data/fw.img", "enter"], box.snapshot());
    expect(update.intents).toEqual([]);
    expect(press(update.ui, ["y"], box.snapshot()).intents).toEqual([
      { kind: "perform", action: { kind: "update", source: "/data/fw.img", force: false } },
    ]);
    expect(press(admin, ["4", "B", "y"], box.snapshot()).intents).toEqual([
      { kind: "perform", action: { kind: "reboot" } },
    ]);
  });

  test("viewers cannot start any action", () => {
    const viewer = initialUi("viewer", "watch", true);
    for (const keys of [["2", "d"], ["2", "e"], ["2", "w"], ["f"], ["t"], ["R"], ["4", "u"], ["4", "B"]]) {
      const step = press(viewer, keys, box.snapshot());
      expect(step.intents).toEqual([]);
      expect(step.ui.modal).toBeNull();
      expect(step.ui.message).toContain("admin role");
    }
  });

  test("q quits an SSH session but not the serial console", () => {
    expect(press(admin, ["q"], box.snapshot()).intents).toEqual([{ kind: "quit" }]);
    const serial = initialUi("admin", "console:ttyS0", false);
    expect(press(serial, ["q", "C-c"], box.snapshot()).intents).toEqual([]);
  });

  test("results land in the status line", () => {
    const busy = press(admin, ["2", "d"], box.snapshot()).ui;
    const done = reduce(
      busy,
      {
        kind: "result",
        action: { kind: "drain", service: "web", real: "10.0.0.2:80" },
        result: { ok: false, message: "nope" },
      },
      box.snapshot(),
      24,
    );
    expect(done.ui.busy).toBeNull();
    expect(done.ui.message).toBe("FAILED: drain web 10.0.0.2:80: nope");
  });
});

describe("Painter", () => {
  test("first paint is full; later paints send only changed rows", () => {
    const p = new Painter();
    const a = ["one", "two", "three"];
    const first = p.paint(a, 10, 3);
    expect(first).toContain("\x1b[2J");
    expect(first).toContain("\x1b[1;1Hone");
    expect(p.paint(a, 10, 3)).toBe("");
    const second = p.paint(["one", "TWO", "three"], 10, 3);
    expect(second).toBe("\x1b[2;1HTWO\x1b[K");
    expect(p.paint(["one", "TWO", "three"], 12, 3)).toContain("\x1b[2J");
  });

  test("never writes the bottom-right cell", () => {
    const p = new Painter();
    const out = p.paint(["x".repeat(5), "y".repeat(5)], 5, 2);
    expect(out).toContain("\x1b[2;1Hyyyy\x1b[K");
    expect(out).not.toContain("yyyyy");
  });
});

describe("TuiSession", () => {
  test("pauses drawing while the peer is congested and repaints in full on resume", () => {
    const box = new FakeBox();
    const outs: string[] = [];
    let accepting = true;
    const session = new TuiSession({
      snapshot: box.snapshot,
      actions: box,
      actor: { who: "ops", role: "admin" },
      log: pino({ level: "silent" }),
      write: (text) => {
        outs.push(text);
        return accepting;
      },
      cols: 80,
      rows: 24,
      allowQuit: true,
      refreshMs: 3_600_000,
    });
    try {
      session.start();
      expect(outs.join("")).toContain("[1 Overview]");
      accepting = false;
      session.input("2");
      const writesWhenCongested = outs.length;
      session.input("3");
      session.input("4");
      expect(outs.length).toBe(writesWhenCongested);
      accepting = true;
      session.resume();
      const repaint = outs.at(-1)!;
      expect(repaint).toContain("\x1b[2J");
      expect(repaint).toContain("[4 Update]");
    } finally {
      session.close();
    }
    expect(outs.at(-1)).toContain("\x1b[?1049l");
  });

  test("a snapshot provider that throws keeps the last good screen", () => {
    const box = new FakeBox();
    let fail = false;
    const outs: string[] = [];
    const session = new TuiSession({
      snapshot: () => {
        if (fail) throw new Error("provider broke");
        return box.snapshot();
      },
      actions: box,
      actor: { who: "ops", role: "admin" },
      log: pino({ level: "silent" }),
      write: (text) => {
        outs.push(text);
        return true;
      },
      cols: 80,
      rows: 24,
      allowQuit: true,
      refreshMs: 3_600_000,
    });
    try {
      session.start();
      fail = true;
      session.input("2");
      expect(outs.join("")).toContain("10.0.0.2:80");
    } finally {
      session.close();
    }
  });
});

describe("robustness (seeded random input)", () => {
  function prng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  test("random bytes never throw and every frame keeps its shape, for many seeds", () => {
    const box = new FakeBox();
    const alphabet = [
      "\x1b",
      "[",
      "O",
      "A",
      "B",
      "5",
      "~",
      "\r",
      "\n",
      "\x7f",
      "\t",
      "q",
      "y",
      "n",
      "d",
      "w",
      "1",
      "2",
      "3",
      "4",
      "?",
      "R",
      "f",
      "t",
      "u",
      "B",
      "l",
      "r",
      "j",
      "k",
      "\x03",
      "\x0c",
      "9",
      "é",
    ];
    for (let seed = 1; seed <= 40; seed++) {
      const rand = prng(seed);
      const decoder = new KeyDecoder();
      let ui = initialUi(seed % 3 === 0 ? "viewer" : "admin", "fuzz", seed % 2 === 0);
      const cols = 40 + Math.floor(rand() * 100);
      const rows = 10 + Math.floor(rand() * 40);
      for (let step = 0; step < 300; step++) {
        let chunk = "";
        const len = 1 + Math.floor(rand() * 6);
        for (let i = 0; i < len; i++) chunk += alphabet[Math.floor(rand() * alphabet.length)];
        const keys = [...decoder.feed(chunk).keys, ...(rand() < 0.2 ? decoder.flush() : [])];
        for (const key of keys) {
          const stepResult = reduce(ui, { kind: "key", key }, box.snapshot(), rows);
          ui = stepResult.ui;
          for (const intent of stepResult.intents) {
            if (intent.kind === "perform") {
              expect(ui.role).toBe("admin");
              ui = reduce(
                ui,
                {
                  kind: "result",
                  action: intent.action,
                  result: { ok: rand() < 0.5, message: "done", diff: ["x"] },
                },
                box.snapshot(),
                rows,
              ).ui;
            }
          }
        }
        const lines = render(box.snapshot(), ui, cols, rows);
        expect(lines.length).toBe(rows);
        for (const line of lines) {
          expect(line.length).toBe(cols);
          expect(line).toMatch(/^[\x20-\x7e]*$/);
        }
      }
    }
  });
});

import { describe, expect, test } from "bun:test";
import { parseAction } from "../../src/console/action-parse.ts";
import {
  EXIT_DENIED,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  runConsoleCommand,
} from "../../src/console/cli/commands.ts";
import { tokenize } from "../../src/console/cli/tokenize.ts";
import type { Actor } from "../../src/state/actions.ts";
import { FakeBox, memoryLogger } from "./console-fixtures.ts";

const ADMIN: Actor = { who: "ops@ssh:192.0.2.50", role: "admin" };
const VIEWER: Actor = { who: "watch@ssh:192.0.2.51", role: "viewer" };

function setup(actor: Actor = ADMIN) {
  const box = new FakeBox();
  const mem = memoryLogger();
  const run = (line: string) =>
    runConsoleCommand(line, { snapshot: box.snapshot, actions: box, actor, log: mem.log });
  return { box, mem, run };
}

describe("tokenize", () => {
  test("quotes and escapes group words; nothing is expanded", () => {
    expect(tokenize(`drain web '10.0.0.2:80' "a b" c\\ d $HOME`)).toEqual({
      ok: true,
      words: ["drain", "web", "10.0.0.2:80", "a b", "c d", "$HOME"],
    });
    expect(tokenize(`drain 'web`)).toEqual({ ok: false, error: "unterminated ' quote" });
    expect(tokenize("x ".repeat(100)).ok).toBe(false);
  });
});

describe("show", () => {
  test("show services prints the ipvsadm -Ln layout", async () => {
    const { run } = setup();
    const r = await run("show services");
    expect(r.code).toBe(EXIT_OK);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("Prot LocalAddress:Port Scheduler Flags");
    expect(lines).toContain("TCP  192.0.2.10:80 wlc");
    expect(lines).toContain("  -> 10.0.0.4:80                  Route   0      0          0          DOWN");
  });

  test("show services SERVICE shows one service", async () => {
    const { run } = setup();
    const r = await run("show services 192.0.2.10:80 --stats");
    expect(r.stdout).toContain("TCP  192.0.2.10:80");
    expect(r.stdout).not.toContain("UDP");
    const j = JSON.parse((await run("show services dns --json")).stdout) as { name: string }[];
    expect(j.map((x) => x.name)).toEqual(["dns"]);
    expect((await run("show services nosuch")).code).toBe(EXIT_FAILED);
  });

  test("show services --json matches the snapshot", async () => {
    const { run, box } = setup();
    const r = await run("show services --json");
    const services = JSON.parse(r.stdout) as {
      name: string;
      protocol: string;
      address: string;
      port: number;
      scheduler: string;
      realServers: {
        address: string;
        port: number;
        weight: number;
        forward: string;
        activeConns: number;
        inactiveConns: number;
      }[];
    }[];
    expect(services.map((s) => [s.name, s.protocol, s.address, s.port, s.scheduler])).toEqual([
      ["web", "TCP", "192.0.2.10", 80, "wlc"],
      ["dns", "UDP", "2001:db8::53", 53, "rr"],
    ]);
    const snap = box.snapshot();
    for (const [i, s] of services.entries()) {
      expect(s.realServers.map((r) => [r.address, r.port, r.weight, r.activeConns, r.inactiveConns])).toEqual(
        snap.services[i]!.realServers.map((r) => [
          r.address,
          r.port,
          r.weight,
          r.activeConns,
          r.inactiveConns,
        ]),
      );
    }
    expect(services[1]!.realServers[0]!.forward).toBe("Masq");
  });

  test("show vrrp, status, real, events and update", async () => {
    const { run, box } = setup();
    const vrrp = JSON.parse((await run("show vrrp --json")).stdout) as {
      name: string;
      state: string;
      master: string;
    }[];
    expect(vrrp.map((v) => [v.name, v.state, v.master])).toEqual([
      ["VI_web", "MASTER", "192.0.2.2"],
      ["VI_db", "BACKUP", "198.51.100.3"],
    ]);
    expect((await run("show vrrp")).stdout).toMatch(
      /VI_web\s+eth0\s+51 MASTER\s+150\s+192\.0\.2\.2\s+192\.0\.2\.10\/32,192\.0\.2\.11\/32/,
    );
    const status = JSON.parse((await run("show status --json")).stdout) as {
      hostname: string;
      bootSlot: string;
      uptimeSeconds: number;
    };
    expect(status).toMatchObject({ hostname: "lb1.example", bootSlot: "a", uptimeSeconds: 273_906 });
    const real = await run("show real web 10.0.0.4");
    expect(real.stdout).toContain("connect timeout after 3000 ms");
    const events = JSON.parse((await run("show events -n 3 --json")).stdout) as { reason: string }[];
    expect(events.map((e) => e.reason)).toEqual(["event number 28", "event number 29", "event number 30"]);
    expect((await run("show update")).stdout).toContain("state     idle");
    expect((await run("show update")).stdout).not.toContain("checks");
    box.update = {
      ...box.update,
      poll: {
        url: "https://updates.example/fulcrum.fupd",
        intervalS: 3600,
        nextCheckAtMs: Date.UTC(2026, 10, 23, 13, 30, 5),
        last: "nothing newer",
      },
    };
    expect((await run("show update")).stdout).toContain(
      "checks    https://updates.example/fulcrum.fupd every 3600 s; next check 13:30:05 UTC; last: nothing newer\n",
    );
    expect((await run("show log -n 1")).stdout).toBe(
      "2026-11-23 11:59:58Z WARN  health.down: 10.0.0.4:80 connect timeout\n",
    );
    const log = JSON.parse((await run("show log --json")).stdout) as { level: string }[];
    expect(log.map((l) => l.level)).toEqual(["info", "warn"]);
  });

  test("unknown things are errors with a hint", async () => {
    const { run } = setup();
    expect((await run("show nothing")).code).toBe(EXIT_USAGE);
    expect((await run("frobnicate")).code).toBe(EXIT_USAGE);
    const missing = await run("drain web 10.9.9.9:80");
    expect(missing.code).toBe(EXIT_FAILED);
    expect(missing.stderr).toContain("no real server '10.9.9.9:80' in service 'web'");
    expect((await run("drain nosuch 10.0.0.2:80")).stderr).toContain("no service 'nosuch'");
  });
});

describe("actions", () => {
  test("drain by VIP:PORT and bare address reaches the handler and is logged with the actor", async () => {
    const { run, box, mem } = setup();
    const r = await run("drain 192.0.2.10:80 10.0.0.2 --json");
    expect(r.code).toBe(EXIT_OK);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      action: { kind: "drain", service: "web", real: "10.0.0.2:80" },
    });
    expect(box.performed).toEqual([
      { actor: ADMIN, action: { kind: "drain", service: "web", real: "10.0.0.2:80" } },
    ]);
    const logged = mem.lines().filter((l) => l["event"] === "console.action");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ who: ADMIN.who, role: "admin", ok: true, action: { kind: "drain" } });
  });

  test("weight, failover with and without priority, failback, update, reboot", async () => {
    const { run, box } = setup();
    expect((await run("weight web 10.0.0.3:80 9")).code).toBe(EXIT_OK);
    expect((await run("weight web 10.0.0.3:80 70000")).code).toBe(EXIT_USAGE);
    expect((await run("failover VI_web")).code).toBe(EXIT_OK);
    expect((await run("failover VI_db 20")).code).toBe(EXIT_OK);
    expect((await run("failover VI_nope")).code).toBe(EXIT_FAILED);
    expect((await run("failback VI_web")).code).toBe(EXIT_OK);
    expect((await run("update https://updates.invalid/fw.img --force")).code).toBe(EXIT_OK);
    expect((await run("reboot")).code).toBe(EXIT_OK);
    expect(box.performed.map((p) => p.action)).toEqual([
      { kind: "weight", service: "web", real: "10.0.0.3:80", weight: 9 },
      { kind: "failover", instance: "VI_web", priority: 0 },
      { kind: "failover", instance: "VI_db", priority: 20 },
      { kind: "failback", instance: "VI_web" },
      { kind: "update", source: "https://updates.invalid/fw.img", force: true },
      { kind: "reboot" },
    ]);
  });

  test("reload prints the diff, then applies; --dry-run only shows it", async () => {
    const { run, box } = setup();
    const dry = await run("reload --dry-run");
    expect(dry.stdout).toContain("~ web: scheduler wlc -> wrr");
    expect(box.performed.map((p) => p.action)).toEqual([{ kind: "reload", confirm: false }]);
    const applied = JSON.parse((await run("reload --json")).stdout) as { applied: boolean; diff: string[] };
    expect(applied.applied).toBe(true);
    expect(applied.diff).toEqual(box.reloadDiff);
    expect(box.performed.map((p) => p.action).slice(1)).toEqual([
      { kind: "reload", confirm: false },
      { kind: "reload", confirm: true },
    ]);
  });

  test("a viewer is refused every action, and the refusal is logged", async () => {
    const { run, box, mem } = setup(VIEWER);
    for (const line of [
      "drain web 10.0.0.2:80",
      "weight web 10.0.0.2:80 1",
      "failover VI_web",
      "reload",
      "reboot",
    ]) {
      const r = await run(line);
      expect(r.code).toBe(EXIT_DENIED);
      expect(r.stderr).toContain("permission denied");
    }
    expect(box.performed).toEqual([]);
    const denials = mem.lines().filter((l) => l["event"] === "console.action" && l["denied"] === true);
    expect(denials).toHaveLength(5);
    expect(denials[0]).toMatchObject({ who: VIEWER.who, role: "viewer" });
    expect((await run("show services")).code).toBe(EXIT_OK);
  });
});

describe("parseAction", () => {
  test("accepts valid actions and names the bad field", () => {
    expect(parseAction({ kind: "weight", service: "web", real: "10.0.0.2:80", weight: 3 })).toEqual({
      ok: true,
      action: { kind: "weight", service: "web", real: "10.0.0.2:80", weight: 3 },
    });
    expect(parseAction({ kind: "failover", instance: "VI_1" })).toEqual({
      ok: true,
      action: { kind: "failover", instance: "VI_1", priority: 0 },
    });
    expect(parseAction({ kind: "weight", service: "web", real: "x", weight: -1 })).toEqual({
      ok: false,
      error: "'weight' must be an integer from 0 to 65535",
    });
    expect(parseAction({ kind: "failover", instance: "VI_1", priority: 255 }).ok).toBe(false);
    expect(parseAction({ kind: "drain", service: "" }).ok).toBe(false);
    expect(parseAction({ kind: "rm -rf" }).ok).toBe(false);
    expect(parseAction([1]).ok).toBe(false);
    expect(parseAction(null).ok).toBe(false);
    expect(parseAction({ kind: "reload", confirm: "yes" }).ok).toBe(false);
  });
});

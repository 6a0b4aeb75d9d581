// The pure parts around the core: config mapping, notify hooks (real processes, no shell), frames.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFile } from "../../src/config/load.ts";
import { parseIP } from "../../src/vrrp/addr.ts";
import { gratuitousArp, parseMac, unsolicitedNa } from "../../src/vrrp/announce.ts";
import { internetChecksum } from "../../src/vrrp/codec.ts";
import { inputFromConfig, notifyFromConfig } from "../../src/vrrp/config.ts";
import { initialState, step } from "../../src/vrrp/core.ts";
import { hookCommands, Notifier, runHook } from "../../src/vrrp/notify.ts";
import { buildSpec } from "../../src/vrrp/spec.ts";
import type { CoreAction } from "../../src/vrrp/types.ts";
import { advert, spec } from "./vrrp-fixtures.ts";

describe("config mapping", () => {
  test("the dr-web-a example maps onto a checked spec in keepalived's terms", async () => {
    const loaded = await loadConfigFile(new URL("../../examples/dr-web-a.toml", import.meta.url).pathname);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const inst = loaded.config.vrrp.instances.find((i) => i.name === "VI_WEB")!;
    const s = buildSpec(inputFromConfig(inst));
    expect(s.vrid).toBe(51);
    expect(s.priority).toBe(150);
    expect(s.advertIntervalCs).toBe(100);
    expect(s.primaryAddress).toBe("10.0.1.2");
    expect(s.unicastPeers).toEqual(["10.0.1.3"]);
    expect(s.virtualAddresses).toEqual(["10.0.1.100/24"]);
    expect(s.virtualAddressDevs).toEqual(["eth0"]);
    expect(s.tracks).toEqual([
      { key: "if:eth0", weight: 0 },
      { key: "if:eth1", weight: -20 },
      { key: "svc:web-http", weight: 0 },
    ]);
    const n = notifyFromConfig(loaded.config.vrrp);
    expect(n.instances?.["VI_WEB"]?.notify_master).toEqual([
      "/usr/local/bin/fulcrum-notify",
      "master",
      "VI_WEB",
    ]);
  });
});

describe("notify hooks", () => {
  test("keepalived's convention: notify gets TYPE NAME STATE PRIORITY, notify_<state> runs as written", () => {
    const hooks = { notify: ["/bin/n"], notify_master: ["/bin/m", "x"], notify_fault: ["/bin/f"] };
    expect(hookCommands(hooks, "INSTANCE", "vi", "master", 150)).toEqual([
      ["/bin/m", "x"],
      ["/bin/n", "INSTANCE", "vi", "MASTER", "150"],
    ]);
    expect(hookCommands(hooks, "GROUP", "g", "initialize", 0)).toEqual([
      ["/bin/n", "GROUP", "g", "STOP", "0"],
    ]);
    expect(hookCommands(undefined, "INSTANCE", "vi", "backup", 1)).toEqual([]);
  });

  test("a script runs directly (no shell: metacharacters are plain arguments), in order, time-bounded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fvr-notify-"));
    try {
      const out = join(dir, "out.txt");
      const script = join(dir, "hook.sh");
      writeFileSync(script, `#!/bin/sh\nprintf '%s|' "$@" >> ${out}\nprintf '\\n' >> ${out}\n`);
      chmodSync(script, 0o755);
      const outcomes: number[] = [];
      const n = new Notifier(
        { instances: { vi: { notify: [script, "$(touch pwned)"] } }, groups: { g: { notify: [script] } } },
        new Map([["vi", "g"]]),
        (o) => outcomes.push(o.exitCode ?? -1),
      );
      n.onChange({ instance: "vi", from: "backup", to: "master", reason: "x", priority: 150 });
      n.onChange({ instance: "vi", from: "master", to: "backup", reason: "y", priority: 150, group: "g" });
      await n.idle();
      const lines = readFileSync(out, "utf8").trim().split("\n").sort();
      expect(lines).toEqual([
        "$(touch pwned)|INSTANCE|vi|BACKUP|150|",
        "$(touch pwned)|INSTANCE|vi|MASTER|150|",
        "GROUP|g|MASTER|150|", // the group hook runs once, for the member that moved the group
      ]);
      expect(outcomes).toEqual([0, 0, 0]);
      const slow = await runHook(["/bin/sleep", "5"], 100);
      expect(slow.timedOut).toBe(true);
      const missing = await runHook([join(dir, "nope")], 1000);
      expect(missing.exitCode === null || missing.exitCode !== 0).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("announcement frames", () => {
  const mac = parseMac("02:00:00:00:00:01");
  test("gratuitous ARP: broadcast request with sender = target = VIP", () => {
    const f = gratuitousArp(mac, parseIP("10.0.0.100"));
    expect(f.length).toBe(42);
    expect([...f.subarray(0, 6)]).toEqual([255, 255, 255, 255, 255, 255]);
    expect((f[12]! << 8) | f[13]!).toBe(0x0806);
    expect((f[20]! << 8) | f[21]!).toBe(1);
    expect([...f.subarray(28, 32)]).toEqual([10, 0, 0, 100]);
    expect([...f.subarray(38, 42)]).toEqual([10, 0, 0, 100]);
  });
  test("unsolicited NA: all-nodes, hop limit 255, override flag, valid ICMPv6 checksum", () => {
    const src = parseIP("fe80::1");
    const f = unsolicitedNa(mac, src, parseIP("fd00::100"));
    expect([...f.subarray(0, 6)]).toEqual([0x33, 0x33, 0, 0, 0, 1]);
    expect(f[14 + 7]).toBe(255);
    const icmp = f.subarray(54);
    expect(icmp[0]).toBe(136);
    expect(icmp[4]).toBe(0x20);
    const pseudo = new Uint8Array(40);
    pseudo.set(src, 0);
    pseudo.set(f.subarray(14 + 24, 14 + 40), 16);
    pseudo[35] = icmp.length;
    pseudo[39] = 58;
    expect(internetChecksum([pseudo, icmp])).toBe(0);
    expect(() => parseMac("02:00:00:00:00")).toThrow();
  });
});

describe("core details the adapter relies on", () => {
  const kinds = (a: CoreAction[]) => a.map((x) => x.kind);
  test("startup as backup removes VIPs a killed previous run left behind", () => {
    const r = step(initialState([spec()]), { kind: "start" }, 0);
    expect(kinds(r.actions)).toEqual(["delVip", "event"]);
  });
  test("VIPs on other interfaces (dev) get their own add/del and GARP actions", () => {
    const s = spec({
      priority: 255,
      virtual_ipaddress: ["10.0.0.100/24", { address: "10.9.0.1/24", dev: "eth1" }],
    });
    const r = step(initialState([s]), { kind: "start" }, 0);
    const adds = r.actions.filter((a) => a.kind === "addVip") as Extract<CoreAction, { kind: "addVip" }>[];
    expect(adds.map((a) => [a.interface, a.cidrs])).toEqual([
      ["eth0", ["10.0.0.100/24"]],
      ["eth1", ["10.9.0.1/24"]],
    ]);
    expect(r.actions.filter((a) => a.kind === "garp").length).toBe(2);
  });
  test("garp_master_refresh: one more GARP round per period while master", () => {
    const s = spec({ priority: 255, garp_master_refresh: 5, garp_master_delay: 0 });
    let r = step(initialState([s]), { kind: "start" }, 0);
    const garps: number[] = [];
    for (let t = 0; t <= 12_000; ) {
      t = r.wakeAtMs;
      r = step(r.state, { kind: "tick" }, t);
      for (const a of r.actions) if (a.kind === "garp") garps.push(a.count);
    }
    expect(garps).toEqual([1, 1]);
  });
  // Gratuitous rounds as [time, count], collected while stepping the core through its own timers.
  const garpRounds = (r: ReturnType<typeof step>, untilMs: number, input?: (t: number) => boolean) => {
    const rounds: [number, number][] = [];
    for (const a of r.actions) if (a.kind === "garp") rounds.push([0, a.count]);
    for (let t = 0; t <= untilMs; ) {
      t = Math.min(r.wakeAtMs, untilMs + 1);
      r = step(r.state, { kind: "tick" }, t);
      for (const a of r.actions) if (a.kind === "garp") rounds.push([t, a.count]);
      if (input?.(t)) break;
    }
    return { rounds, last: r };
  };
  test("garp_master_delay: a second full round after taking over (keepalived's default 5 s), then none", () => {
    const s = spec({ priority: 255, garp_master_repeat: 3 });
    const { rounds } = garpRounds(step(initialState([s]), { kind: "start" }, 0), 20_000);
    expect(rounds).toEqual([
      [0, 3],
      [5000, 3],
    ]);
    const off = spec({ priority: 255, garp_master_delay: 0 });
    expect(garpRounds(step(initialState([off]), { kind: "start" }, 0), 20_000).rounds).toEqual([[0, 5]]);
  });
  test("garp_master_delay: answering a lower master schedules another round after the delay", () => {
    const s = spec({ priority: 255, garp_master_delay: 2 });
    const first = garpRounds(step(initialState([s]), { kind: "start" }, 0), 3000);
    expect(first.rounds.map(([t]) => t)).toEqual([0, 2000]);
    // A lower-priority master appears (a healed partition) at t = 10 s: answer at once, and again 2 s later.
    let r = step(first.last.state, { kind: "tick" }, 9_500);
    r = step(r.state, { kind: "packet", instance: s.name, advert: advert(100, "10.0.0.9") }, 10_000);
    expect(r.actions.filter((a) => a.kind === "garp").length).toBe(1);
    const after = garpRounds(r, 13_000);
    expect(after.rounds.filter(([t]) => t > 10_000).map(([t]) => t)).toEqual([12_000]);
  });
});

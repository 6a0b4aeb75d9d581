import { describe, expect, test } from "bun:test";
import { type CoreState, initialState, type StepResult, step } from "../../src/vrrp/core.ts";
import type { CoreAction, CoreInput, SyncGroupSpec, VrrpInstanceSpec } from "../../src/vrrp/types.ts";
import { advert, spec } from "./vrrp-fixtures.ts";

/** Drives one core and remembers its actions. */
class Driver {
  state: CoreState;
  last: StepResult | undefined;
  constructor(specs: VrrpInstanceSpec[], groups: SyncGroupSpec[] = []) {
    this.state = initialState(specs, groups);
  }
  input(i: CoreInput, now: number): CoreAction[] {
    this.last = step(this.state, i, now);
    this.state = this.last.state;
    return this.last.actions;
  }
  role(name = "vi") {
    return this.state.instances.find((i) => i.spec.name === name)!.role;
  }
  inst(name = "vi") {
    return this.state.instances.find((i) => i.spec.name === name)!;
  }
}

const kinds = (a: CoreAction[]) => a.map((x) => x.kind);

describe("RFC 5798 state machine", () => {
  test("startup as backup, master after Master_Down_Interval = 3 x interval + skew", () => {
    const d = new Driver([spec({ priority: 100 })]);
    d.input({ kind: "start" }, 0);
    expect(d.role()).toBe("backup");
    const mdi = 3000 + ((256 - 100) * 1000) / 256;
    expect(d.last!.wakeAtMs).toBeCloseTo(mdi, 6);
    expect(d.input({ kind: "tick" }, mdi - 1)).toEqual([]);
    const acts = d.input({ kind: "tick" }, mdi);
    expect(d.role()).toBe("master");
    expect(kinds(acts)).toEqual(["send", "addVip", "garp", "event"]);
    const send = acts[0] as Extract<CoreAction, { kind: "send" }>;
    expect(send.advert.priority).toBe(100);
    expect(d.last!.wakeAtMs).toBe(mdi + 1000);
  });

  test("the address owner (255) is master at once", () => {
    const d = new Driver([spec({ priority: 255 })]);
    expect(kinds(d.input({ kind: "start" }, 0))).toEqual(["send", "addVip", "garp", "event"]);
    expect(d.role()).toBe("master");
  });

  test("master sends every interval without drift and never schedules into the past", () => {
    const d = new Driver([spec({ priority: 255 })]);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "tick" }, 1003); // late wake-up
    expect(d.last!.wakeAtMs).toBe(2000);
    d.input({ kind: "tick" }, 5500); // very late: next one is a full interval away
    expect(d.last!.wakeAtMs).toBe(6500);
  });

  test("backup learns the master's interval and resets its down timer", () => {
    const d = new Driver([spec({ priority: 100 })]);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "packet", instance: "vi", advert: advert(200, "10.0.0.2", 50) }, 100);
    expect(d.inst().masterAdverIntervalCs).toBe(50);
    expect(d.last!.wakeAtMs).toBeCloseTo(100 + 1500 + (156 * 500) / 256, 6);
    expect(d.inst().masterAddress).toBe("10.0.0.2");
  });

  test("priority 0 from the master: the backup takes over after Skew_Time only", () => {
    const d = new Driver([spec({ priority: 200 })]);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "packet", instance: "vi", advert: advert(250) }, 100);
    d.input({ kind: "packet", instance: "vi", advert: advert(0) }, 500);
    const skew = (56 * 1000) / 256;
    expect(d.last!.wakeAtMs).toBeCloseTo(500 + skew, 6);
    const acts = d.input({ kind: "tick" }, 500 + skew);
    expect(d.role()).toBe("master");
    const change = acts.find((a) => a.kind === "event");
    expect(change?.kind === "event" && change.change.reason).toBe(
      "the master resigned (priority 0); took over after skew time",
    );
    // An ordinary takeover later says so: the resignation is not remembered past the next master.
    d.input({ kind: "packet", instance: "vi", advert: advert(250) }, 2000);
    const later = d.input({ kind: "tick" }, 2000 + 3000 + skew + 1);
    const again = later.find((a) => a.kind === "event");
    expect(again?.kind === "event" && again.change.reason).toBe("master down timer expired");
  });

  test("master steps down for a higher priority, or an equal priority from a higher address", () => {
    for (const [prio, src, expected] of [
      [101, "10.0.0.0", "backup"],
      [100, "10.0.0.2", "backup"],
      [100, "10.0.0.0", "master"],
      [99, "10.0.0.9", "master"],
    ] as const) {
      const d = new Driver([spec({ priority: 100, src: "10.0.0.1" })]);
      d.input({ kind: "start" }, 0);
      d.input({ kind: "tick" }, 4000);
      expect(d.role()).toBe("master");
      const acts = d.input({ kind: "packet", instance: "vi", advert: advert(prio, src) }, 4300);
      expect(d.role()).toBe(expected);
      if (expected === "backup") {
        // One last advert at our own priority, so the winner answers it with GARPs for our clients.
        expect(kinds(acts)).toEqual(["send", "delVip", "event"]);
        expect((acts[0] as Extract<CoreAction, { kind: "send" }>).advert.priority).toBe(100);
      }
      // A lower master gets an immediate answer and the clients' caches a refresh.
      else expect(kinds(acts)).toEqual(["send", "garp"]);
    }
  });

  test("answers to lower masters: at most one per quarter interval, a later one deferred, not dropped", () => {
    const d = new Driver([spec({ priority: 200 })]);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "tick" }, 4000);
    expect(d.role()).toBe("master");
    // Our own periodic advert does not silence the answer (it is what deposed the lower master).
    d.input({ kind: "tick" }, 5000);
    expect(kinds(d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 5010))).toEqual([
      "send",
      "garp",
    ]);
    // A second lower master 40 ms later: inside the 250 ms bound, so nothing now, an answer at 5260.
    expect(d.input({ kind: "packet", instance: "vi", advert: advert(150, "10.0.0.3") }, 5050)).toEqual([]);
    expect(d.input({ kind: "packet", instance: "vi", advert: advert(150, "10.0.0.3") }, 5100)).toEqual([]);
    expect(d.last!.wakeAtMs).toBe(5260);
    expect(kinds(d.input({ kind: "tick" }, 5260))).toEqual(["send", "garp"]);
    expect(d.last!.wakeAtMs).toBe(6260); // the answer was an advert: the cadence restarts from it
    // Stepping down forgets a deferred answer.
    d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 5300);
    d.input({ kind: "packet", instance: "vi", advert: advert(250) }, 5310);
    expect(d.role()).toBe("backup");
    expect(d.inst().lowerAnswerDueAt).toBeNull();
  });

  test("master answers a resigning peer at once", () => {
    const d = new Driver([spec({ priority: 255 })]);
    d.input({ kind: "start" }, 0);
    expect(kinds(d.input({ kind: "packet", instance: "vi", advert: advert(0) }, 10))).toEqual(["send"]);
  });

  test("preempt: a higher backup ignores a lower master and takes over after the down interval", () => {
    const d = new Driver([spec({ priority: 150 })]);
    d.input({ kind: "start" }, 0);
    const before = d.last!.wakeAtMs;
    d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 1000);
    expect(d.last!.wakeAtMs).toBe(before);
  });

  test("nopreempt: a higher backup follows a lower master", () => {
    const d = new Driver([spec({ priority: 150, nopreempt: true })]);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 1000);
    expect(d.last!.wakeAtMs).toBeGreaterThan(4000);
  });

  test("preempt_delay holds off preemption, counted from the first lower advert", () => {
    const d = new Driver([spec({ priority: 150, preempt_delay: 10 })]);
    d.input({ kind: "start" }, 0); // startup also starts the delay
    for (let t = 1000; t < 10000; t += 1000)
      d.input({ kind: "packet", instance: "vi", advert: advert(100) }, t);
    expect(d.role()).toBe("backup");
    expect(d.last!.wakeAtMs).toBeGreaterThan(12000); // still following
    d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 10000);
    d.input({ kind: "tick" }, 10000);
    d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 11000); // ignored now
    const wake = d.last!.wakeAtMs;
    expect(wake).toBeLessThan(10000 + 3700);
    d.input({ kind: "tick" }, wake);
    expect(d.role()).toBe("master");
  });

  test("an input that arrives after a timer fell due: the input first, then the due timer fires", () => {
    // A late wake-up: the down timer expired at ~3609 ms but the Worker runs at 3700 with a packet in hand.
    const follow = new Driver([spec({ priority: 100 })]);
    follow.input({ kind: "start" }, 0);
    follow.input({ kind: "packet", instance: "vi", advert: advert(200) }, 3700); // the master is alive
    expect(follow.role()).toBe("backup");
    const ignore = new Driver([spec({ priority: 150 })]);
    ignore.input({ kind: "start" }, 0);
    ignore.input({ kind: "packet", instance: "vi", advert: advert(100) }, 3700); // preempt: ignored, timer due
    expect(ignore.role()).toBe("master");
    expect(ignore.last!.wakeAtMs).toBeGreaterThan(3700);
    const admin = new Driver([spec({ priority: 100 })]);
    admin.input({ kind: "start" }, 0);
    admin.input({ kind: "admin", instance: "vi", priority: 120 }, 5000);
    expect(admin.role()).toBe("master");
  });

  test("shutdown: a master sends priority 0 and removes its addresses", () => {
    const d = new Driver([spec({ priority: 255 })]);
    d.input({ kind: "start" }, 0);
    const acts = d.input({ kind: "shutdown" }, 10);
    expect(kinds(acts)).toEqual(["send", "delVip", "event"]);
    expect((acts[0] as Extract<CoreAction, { kind: "send" }>).advert.priority).toBe(0);
    expect(d.role()).toBe("initialize");
    expect(d.last!.wakeAtMs).toBe(Number.POSITIVE_INFINITY);
    expect(d.input({ kind: "tick" }, 5000)).toEqual([]);
  });
});

describe("tracking and admin", () => {
  test("weights move the effective priority as keepalived does", () => {
    const s = spec({
      priority: 100,
      track_interface: [{ name: "eth1", weight: -30 }],
      track_service: [{ name: "web", weight: 20 }],
    });
    const d = new Driver([s]);
    expect(d.inst().priority).toBe(120); // +20 while web is up
    d.input({ kind: "track", key: "if:eth1", up: false }, 0);
    expect(d.inst().priority).toBe(90);
    d.input({ kind: "track", key: "svc:web", up: false }, 0);
    expect(d.inst().priority).toBe(70);
    d.input({ kind: "track", key: "if:eth1", up: true }, 0);
    expect(d.inst().priority).toBe(100);
  });

  test("effective priority is clamped to 1..254; owners stay 255", () => {
    const low = new Driver([spec({ priority: 10, track_interface: [{ name: "x", weight: -50 }] })]);
    low.input({ kind: "track", key: "if:x", up: false }, 0);
    expect(low.inst().priority).toBe(1);
    const high = new Driver([spec({ priority: 250, track_service: [{ name: "s", weight: 50 }] })]);
    expect(high.inst().priority).toBe(254);
    const owner = new Driver([spec({ priority: 255, track_interface: [{ name: "x", weight: -50 }] })]);
    owner.input({ kind: "track", key: "if:x", up: false }, 0);
    expect(owner.inst().priority).toBe(255);
  });

  test("a master whose priority changes advertises it at once", () => {
    const m = new Driver([spec({ priority: 100, track_interface: [{ name: "e", weight: -50 }] })]);
    m.input({ kind: "start" }, 0);
    m.input({ kind: "tick" }, 4000);
    const acts = m.input({ kind: "track", key: "if:e", up: false }, 4100);
    expect(kinds(acts)).toEqual(["send"]);
    expect((acts[0] as Extract<CoreAction, { kind: "send" }>).advert.priority).toBe(50);
  });

  test("weight 0 means FAULT: a master resigns with priority 0; recovery returns to backup", () => {
    const d = new Driver([spec({ priority: 255, track_interface: [{ name: "eth0" }] })]);
    d.input({ kind: "start" }, 0);
    const acts = d.input({ kind: "track", key: "if:eth0", up: false }, 100);
    expect(d.role()).toBe("fault");
    expect(kinds(acts)).toEqual(["send", "delVip", "event"]);
    expect(d.input({ kind: "packet", instance: "vi", advert: advert(100) }, 200)).toEqual([]);
    d.input({ kind: "track", key: "if:eth0", up: true }, 300);
    expect(d.role()).toBe("master"); // owner
  });

  test("a tracked object down at startup starts in FAULT", () => {
    const d = new Driver([spec({ track_service: [{ name: "db" }] })]);
    d.input({ kind: "track", key: "svc:db", up: false }, 0);
    d.input({ kind: "start" }, 0);
    expect(d.role()).toBe("fault");
    d.input({ kind: "track", key: "svc:db", up: true }, 10);
    expect(d.role()).toBe("backup");
  });

  test("admin: priority override and resign (force failover)", () => {
    const d = new Driver([spec({ priority: 255 })]);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "admin", instance: "vi", priority: 1 }, 10);
    expect(d.inst().priority).toBe(1);
    const acts = d.input({ kind: "admin", instance: "vi", resign: true }, 20);
    expect(d.role()).toBe("backup");
    expect((acts[0] as Extract<CoreAction, { kind: "send" }>).advert.priority).toBe(0);
    d.input({ kind: "admin", instance: "vi", priority: null }, 30);
    expect(d.inst().priority).toBe(255);
    d.input({ kind: "admin", instance: "vi", priority: 999 }, 40); // out of range: ignored
    expect(d.inst().priority).toBe(255);
  });
});

describe("sync groups", () => {
  const a = () => spec({ name: "a", virtual_router_id: 1, priority: 100 });
  const b = () =>
    spec({ name: "b", virtual_router_id: 2, priority: 100, track_interface: [{ name: "eth1" }] });
  const groups = [{ name: "g", instances: ["a", "b"] }];

  test("members become master together and step down together", () => {
    const d = new Driver([a(), b()], groups);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "packet", instance: "a", advert: { ...advert(50), vrid: 1 } }, 10);
    // a is still following (no preempt timer reset for lower priority); b's timer fires first.
    d.input({ kind: "tick" }, d.last!.wakeAtMs);
    expect([d.role("a"), d.role("b")]).toEqual(["master", "master"]);
    const acts = d.input({ kind: "packet", instance: "b", advert: { ...advert(200), vrid: 2 } }, 5000);
    expect([d.role("a"), d.role("b")]).toEqual(["backup", "backup"]);
    const events = acts.filter((x) => x.kind === "event") as Extract<CoreAction, { kind: "event" }>[];
    expect(events.map((e) => e.change.instance).sort()).toEqual(["a", "b"]);
    expect(events.find((e) => e.change.instance === "a")!.change.group).toBe("g");
  });

  test("one member's fault takes the group to FAULT until it recovers", () => {
    const d = new Driver([a(), b()], groups);
    d.input({ kind: "start" }, 0);
    d.input({ kind: "track", key: "if:eth1", up: false }, 10);
    expect([d.role("a"), d.role("b")]).toEqual(["fault", "fault"]);
    d.input({ kind: "track", key: "if:eth1", up: true }, 20);
    expect([d.role("a"), d.role("b")]).toEqual(["backup", "backup"]);
  });
});

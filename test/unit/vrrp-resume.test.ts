import { describe, expect, test } from "bun:test";
import { initialState, step } from "../../src/vrrp/core.ts";
import { encodeMasters, parseMasters, resumableMasters } from "../../src/vrrp/resume.ts";
import { advert, spec } from "./vrrp-fixtures.ts";

// priority 150, 1 s adverts: Master_Down_Interval = 3 s + (256 - 150) / 256 s = 3414 ms
const a = spec({ name: "vi", priority: 150 });
const b = spec({ name: "vj", priority: 150, virtual_router_id: 52, virtual_ipaddress: ["10.0.0.101/24"] });

describe("resuming VRRP mastership after a restart of the daemon", () => {
  test("the record round-trips; anything malformed is no record", () => {
    const r = { heartbeatMs: 1_000, masters: ["vi"] };
    expect(parseMasters(encodeMasters(r))).toEqual(r);
    for (const bad of [
      "",
      "{",
      "null",
      "[]",
      '{"heartbeatMs":"1","masters":[]}',
      '{"heartbeatMs":1,"masters":[1]}',
    ]) {
      expect(parseMasters(bad)).toBeNull();
    }
    expect(parseMasters(JSON.stringify({ heartbeatMs: 1, masters: Array(2000).fill("x") }))).toBeNull();
  });

  test("an instance resumes only when it was master and the record is younger than its down interval", () => {
    const rec = { heartbeatMs: 10_000, masters: ["vi"] };
    expect(resumableMasters(rec, [a, b], [], 10_000 + 3_000)).toEqual(["vi"]);
    expect(resumableMasters(rec, [a, b], [], 10_000 + 3_415)).toEqual([]); // a backup may have taken over
    expect(resumableMasters(rec, [a, b], [], 9_000)).toEqual([]); // the clock went back
    expect(resumableMasters(null, [a, b], [], 10_000)).toEqual([]);
    expect(resumableMasters({ heartbeatMs: 10_000, masters: [] }, [a], [], 10_000)).toEqual([]); // clean stop
    // 100 ms adverts: 345 ms; a restart that slow starts fresh
    const fast = spec({ name: "vi", priority: 150, advert_int: 0.1 });
    expect(resumableMasters(rec, [fast], [], 10_000 + 300)).toEqual(["vi"]);
    expect(resumableMasters(rec, [fast], [], 10_000 + 400)).toEqual([]);
  });

  test("a sync group resumes as a whole or not at all", () => {
    const groups = [{ name: "g", instances: ["vi", "vj"] }];
    expect(resumableMasters({ heartbeatMs: 0, masters: ["vi"] }, [a, b], groups, 100)).toEqual([]);
    expect(resumableMasters({ heartbeatMs: 0, masters: ["vi", "vj"] }, [a, b], groups, 100)).toEqual([
      "vi",
      "vj",
    ]);
  });

  test("the core starts a resumed instance as master: VIPs kept (added again, never deleted), advert and GARP at once", () => {
    const resumed = step(initialState([a], []), { kind: "start", resume: ["vi"] }, 0);
    expect(resumed.state.instances[0]?.role).toBe("master");
    const kinds = resumed.actions.map((x) => x.kind);
    expect(kinds).toContain("send");
    expect(kinds).toContain("addVip");
    expect(kinds).toContain("garp");
    expect(kinds).not.toContain("delVip");
    // A lower-priority master that took over meanwhile (a slow restart) steps down to our advert; we stay.
    const after = step(resumed.state, { kind: "packet", instance: "vi", advert: advert(100) }, 50);
    expect(after.state.instances[0]?.role).toBe("master");
    // Without a resume the start is the usual one: backup, and stale VIPs deleted.
    const fresh = step(initialState([a], []), { kind: "start" }, 0);
    expect(fresh.state.instances[0]?.role).toBe("backup");
    expect(fresh.actions.map((x) => x.kind)).toContain("delVip");
  });
});

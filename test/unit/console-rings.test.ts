import { describe, expect, test } from "bun:test";
import pino from "pino";
import { EventRing, LogRing } from "../../src/console/rings.ts";
import { EventBus } from "../../src/log/events.ts";

describe("EventRing", () => {
  test("keeps the newest events from an EventBus, bounded", () => {
    const bus = new EventBus(pino({ level: "silent" }));
    const ring = new EventRing(3);
    ring.attach(bus);
    for (let i = 1; i <= 5; i++) bus.emit({ event: "health.up", reason: `real ${i} up` });
    expect(ring.events().map((e) => e.reason)).toEqual(["real 3 up", "real 4 up", "real 5 up"]);
    ring.detach();
    bus.emit({ event: "health.down", reason: "after detach" });
    expect(ring.events()).toHaveLength(3);
    expect(() => new EventRing(0)).toThrow();
  });
});

describe("LogRing", () => {
  test("keeps the newest pino lines next to the real destination", () => {
    const ring = new LogRing(2);
    const sink: string[] = [];
    const log = pino(
      { level: "info" },
      pino.multistream([{ stream: { write: (c: string) => sink.push(c) } }, { stream: ring.stream }]),
    );
    log.info({ event: "config.loaded" }, "loaded a.toml");
    log.warn("disk almost full");
    log.error({ event: "vrrp.fault" }, "eth0 down");
    expect(sink).toHaveLength(3);
    expect(ring.lines().map((l) => [l.level, l.msg])).toEqual([
      ["warn", "disk almost full"],
      ["error", "vrrp.fault: eth0 down"],
    ]);
  });

  test("clips long lines and keeps non-JSON text", () => {
    const ring = new LogRing(5);
    ring.stream.write(`plain text line\n${JSON.stringify({ level: 30, time: 1, msg: "x".repeat(1000) })}\n`);
    const lines = ring.lines();
    expect(lines[0]!.msg).toBe("plain text line");
    expect(lines[1]!.msg.length).toBe(400);
    expect(lines[1]!.atMs).toBe(1);
  });
});

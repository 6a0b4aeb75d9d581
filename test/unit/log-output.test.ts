// The logger's output can be taken over (by the serial console) and given back; the tee sees JSON.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../../src/log/logger.ts";
import { LogOutput } from "../../src/log/output.ts";

describe("LogOutput", () => {
  test("redirect sends formatted lines to the sink, synchronously; null gives them back", () => {
    const output = new LogOutput(-1); // fd -1: a write there fails, and failing must not throw
    const sink: string[] = [];
    const json: string[] = [];
    const log = createLogger({ pretty: true, output, tee: { write: (l) => json.push(l) } });
    log.info({ event: "x.y" }, "first");
    output.redirect({ write: (t) => sink.push(t) });
    log.warn({ event: "x.z", n: 1 }, "second");
    expect(sink).toHaveLength(1); // written before log.warn returned
    expect(sink[0]).toContain("WARN");
    expect(sink[0]).toContain("second");
    output.redirect(null);
    log.info("third"); // to fd -1: dropped without an exception
    expect(sink).toHaveLength(1);
    expect(json.map((l) => JSON.parse(l).msg)).toEqual(["first", "second", "third"]);
  });

  test("JSON format passes lines through unchanged", () => {
    const output = new LogOutput(-1);
    const sink: string[] = [];
    output.redirect({ write: (t) => sink.push(t) });
    createLogger({ pretty: false, output }).info({ event: "a.b" }, "hello");
    expect(JSON.parse(sink[0]!)).toMatchObject({ event: "a.b", msg: "hello", app: "fulcrum" });
  });
});

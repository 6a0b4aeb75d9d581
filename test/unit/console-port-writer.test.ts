// The serial console's output queue, with a fake device: bounded, never blocking, dropping whole writes
// when full, telling the writer to pause and resume, and dying cleanly on a device error.
import { describe, expect, test } from "bun:test";
import { PortWriter, type WriteSome } from "../../src/console/port-writer.ts";
import { waitFor } from "./console-fixtures.ts";

/** A device that takes up to `room` bytes, then nothing until `room` is raised again. */
function fakeDevice() {
  const dev = {
    room: Number.POSITIVE_INFINITY,
    taken: [] as string[],
    fail: null as Error | null,
    writeSome: ((bytes: Uint8Array) => {
      if (dev.fail) throw dev.fail;
      if (dev.room <= 0) return "again";
      const n = Math.min(bytes.byteLength, dev.room);
      dev.room -= n;
      dev.taken.push(new TextDecoder().decode(bytes.subarray(0, n)));
      return n;
    }) as WriteSome,
    text: () => dev.taken.join(""),
  };
  return dev;
}

describe("PortWriter", () => {
  test("a device that keeps up gets everything at once, in order", () => {
    const dev = fakeDevice();
    const w = new PortWriter({ writeSome: dev.writeSome });
    expect(w.write("one\n")).toBe(true);
    expect(w.write(new TextEncoder().encode("two\n"))).toBe(true);
    expect(dev.text()).toBe("one\ntwo\n");
    expect(w.pending).toBe(0);
  });

  test("partial writes keep the rest queued and retry it later", async () => {
    const dev = fakeDevice();
    dev.room = 3;
    const w = new PortWriter({ writeSome: dev.writeSome, retryMs: 5 });
    expect(w.write("abcdef")).toBe(true);
    expect(dev.text()).toBe("abc");
    expect(w.pending).toBe(3);
    dev.room = Number.POSITIVE_INFINITY;
    await waitFor("the rest", () => w.pending === 0);
    expect(dev.text()).toBe("abcdef");
  });

  test("a stuck device: bounded queue, whole writes dropped and counted, pause and drain signalled", async () => {
    const dev = fakeDevice();
    dev.room = 0;
    let drains = 0;
    const w = new PortWriter({
      writeSome: dev.writeSome,
      maxBytes: 100,
      highWaterBytes: 40,
      retryMs: 5,
      onDrain: () => drains++,
    });
    expect(w.write("x".repeat(30))).toBe(true); // below the high-water mark
    expect(w.write("y".repeat(30))).toBe(false); // above it: pause
    expect(w.write("z".repeat(30))).toBe(false);
    expect(w.write("w".repeat(30))).toBe(false); // would pass 100: dropped whole
    for (let i = 0; i < 1000; i++) w.write("v".repeat(50));
    expect(w.pending).toBe(90);
    expect(w.takeDropped()).toBe(30 + 1000 * 50);
    expect(w.takeDropped()).toBe(0);
    expect(drains).toBe(0);
    dev.room = Number.POSITIVE_INFINITY;
    await waitFor("drained", () => drains === 1);
    expect(dev.text()).toBe(`${"x".repeat(30)}${"y".repeat(30)}${"z".repeat(30)}`);
    expect(w.write("after")).toBe(true);
    expect(dev.text().endsWith("after")).toBe(true);
  });

  test("a device error closes the writer once; later writes are refused", () => {
    const dev = fakeDevice();
    const errors: unknown[] = [];
    const w = new PortWriter({ writeSome: dev.writeSome, onError: (e) => errors.push(e) });
    dev.fail = Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
    expect(w.write("a")).toBe(false); // the flush found the error
    expect(errors).toHaveLength(1);
    expect(w.write("b")).toBe(false);
    expect(w.pending).toBe(0);
    expect(errors).toHaveLength(1);
  });

  test("close stops the retry timer and forgets the queue", async () => {
    const dev = fakeDevice();
    dev.room = 0;
    const w = new PortWriter({ writeSome: dev.writeSome, retryMs: 5 });
    w.write("queued");
    w.close();
    dev.room = Number.POSITIVE_INFINITY;
    await Bun.sleep(30); // several retry periods: nothing may be written after close
    expect(dev.text()).toBe("");
    expect(w.pending).toBe(0);
  });
});

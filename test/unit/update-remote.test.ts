// Checking `[update] url` against a real HTTP server (Bun.serve on loopback) serving real signed
// artifacts: only the header is fetched (a Range request, or a cut-off read from a server without
// Range), judged like an apply; and the poller (real timers, shortened) finds a newer release through a
// flaky server, backs off, and applies it into a slot file.
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyArtifact } from "../../src/update/apply.ts";
import { packArtifact, publicKeyOf } from "../../src/update/pack.ts";
import { UpdatePoller } from "../../src/update/poller.ts";
import { checkRemote, FIRST_RANGE_BYTES, fetchHeader, type RemoteCheck } from "../../src/update/remote.ts";
import { waitFor } from "../helpers/responders.ts";

const pem = () =>
  generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
const KEY = pem();
const OTHER = pem();
const dir = mkdtempSync(join(tmpdir(), "fulcrum-remote-"));

// 4 MiB that does not compress: the payload is far larger than any header read.
const ROOT = new Uint8Array(4 * 1024 * 1024);
for (let i = 0; i < ROOT.length; i += 65536) crypto.getRandomValues(ROOT.subarray(i, i + 65536));
const UKI = new Uint8Array(50_000).fill(7);
const SLOT_BYTES = ROOT.length + 65536;

function artifact(
  version: string,
  o: { key?: string; root?: Uint8Array; chunkSize?: number } = {},
): Uint8Array {
  const { parts } = packArtifact({
    root: o.root ?? ROOT,
    uki: UKI,
    version,
    build: `b${version}`,
    minVersion: "0",
    privateKeyPem: o.key ?? KEY,
    level: 1,
    chunkSize: o.chunkSize ?? 256 * 1024,
  });
  return Buffer.concat(parts);
}

const files = new Map<string, Uint8Array>([
  ["1.1.fupd", artifact("1.1")],
  ["1.0.fupd", artifact("1.0")],
  ["other-key.fupd", artifact("1.1", { key: OTHER })],
  // 1200 chunks of 64 KiB: a manifest larger than the first range.
  ["big-header.fupd", artifact("1.2", { root: new Uint8Array(1200 * 65536), chunkSize: 65536 })],
]);

interface Seen {
  path: string;
  range: string | null;
}
const seen: Seen[] = [];
/** Bytes the server-without-Range handed to its stream before the client stopped reading. */
let plainBytesSent = 0;
let plainCancelled = false;
let flakyLeft = 0;

/** RFC 9110 single range "bytes=A-B" -> [A, B] within `len`, or undefined. */
function range(h: string | null, len: number): [number, number] | undefined {
  const m = h === null ? null : /^bytes=(\d+)-(\d+)$/.exec(h);
  if (m === null) return undefined;
  return [Number(m[1]), Math.min(len - 1, Number(m[2]))];
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    const [, mode = "", name = ""] = url.pathname.split("/");
    seen.push({ path: url.pathname, range: req.headers.get("range") });
    if (mode === "hang") return new Promise<Response>(() => {});
    if (mode === "flaky" && flakyLeft > 0) {
      flakyLeft--;
      return new Response("busy", { status: 503 });
    }
    const body = files.get(name);
    if (body === undefined) return new Response("no", { status: 404 });
    if (mode === "plain") {
      // Ignores Range; hands out 64 KiB every 5 ms, so what was sent before the client hung up is
      // counted (loopback's socket buffers would swallow a fast server's whole file).
      let at = 0;
      plainCancelled = false;
      const stream = new ReadableStream<Uint8Array>(
        {
          async pull(c) {
            if (at >= body.length) return c.close();
            await Bun.sleep(5);
            const piece = body.subarray(at, at + 65536);
            at += piece.length;
            plainBytesSent += piece.length;
            c.enqueue(piece);
          },
          cancel() {
            plainCancelled = true;
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(stream, { headers: { "content-length": String(body.length) } });
    }
    const r = range(req.headers.get("range"), body.length);
    if (r === undefined) return new Response(body);
    return new Response(body.subarray(r[0], r[1] + 1), {
      status: 206,
      headers: { "content-range": `bytes ${r[0]}-${r[1]}/${body.length}` },
    });
  },
});
const base = `http://127.0.0.1:${server.port}`;
afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const check = (path: string, o: Partial<RemoteCheck> = {}) =>
  checkRemote({
    url: `${base}${path}`,
    trustedKeys: [publicKeyOf(KEY)],
    facts: { product: "fulcrum", running: "1.0", floor: undefined, slotBytes: SLOT_BYTES },
    failedVersion: undefined,
    timeoutMs: 10_000,
    ...o,
  });

describe("reading only the header", () => {
  test("a server with Range: one request for the first 64 KiB, never the payload", async () => {
    seen.length = 0;
    const h = await fetchHeader(`${base}/ranged/1.1.fupd`, 10_000);
    expect(h.manifest.version).toBe("1.1");
    expect(seen).toEqual([{ path: "/ranged/1.1.fupd", range: `bytes=0-${FIRST_RANGE_BYTES - 1}` }]);
  });

  test("a header larger than the first range: a second request for exactly the rest of it", async () => {
    seen.length = 0;
    const h = await fetchHeader(`${base}/ranged/big-header.fupd`, 10_000);
    expect(h.manifest.payloads[0]?.chunks.length).toBe(1200);
    expect(h.length).toBeGreaterThan(FIRST_RANGE_BYTES);
    expect(seen.map((s) => s.range)).toEqual([`bytes=0-${FIRST_RANGE_BYTES - 1}`, `bytes=0-${h.length - 1}`]);
  });

  test("a server without Range: read until the header is in, then the connection is dropped", async () => {
    plainBytesSent = 0;
    const total = files.get("1.1.fupd")?.length ?? 0;
    const h = await fetchHeader(`${base}/plain/1.1.fupd`, 10_000);
    expect(h.manifest.version).toBe("1.1");
    await waitFor(() => plainCancelled, 10_000, "the server to see the client hang up");
    expect(plainBytesSent).toBeLessThan(total / 4);
  });

  test("not an artifact, a missing file and a server that never answers fail with the reason", async () => {
    files.set("junk.fupd", new Uint8Array(100_000).fill(1));
    await expect(fetchHeader(`${base}/ranged/junk.fupd`, 10_000)).rejects.toThrow("bad magic");
    await expect(fetchHeader(`${base}/ranged/nope.fupd`, 10_000)).rejects.toThrow("HTTP 404");
    await expect(fetchHeader(`${base}/hang/1.1.fupd`, 300)).rejects.toThrow("no answer within 0.3 s");
    const cut = (files.get("1.1.fupd") ?? new Uint8Array()).subarray(0, 100);
    files.set("cut.fupd", cut);
    await expect(fetchHeader(`${base}/ranged/cut.fupd`, 10_000)).rejects.toThrow("ends inside its header");
  });
});

describe("judging what the server offers", () => {
  test("a newer release, signed by a trusted key: update", async () => {
    expect(await check("/ranged/1.1.fupd")).toMatchObject({ kind: "update", version: "1.1" });
  });

  test("the running release, an older one, one that failed here before: nothing to do", async () => {
    expect(await check("/ranged/1.0.fupd")).toMatchObject({
      kind: "none",
      detail: expect.stringContaining("nothing newer"),
    });
    expect(
      await check("/ranged/1.1.fupd", {
        facts: { product: "fulcrum", running: "1.2", floor: undefined, slotBytes: SLOT_BYTES },
      }),
    ).toMatchObject({ kind: "none" });
    expect(await check("/ranged/1.1.fupd", { failedVersion: "1.1" })).toMatchObject({
      kind: "none",
      detail: expect.stringContaining("failed on this box before"),
    });
    expect(
      await check("/ranged/1.1.fupd", {
        facts: { product: "fulcrum", running: "1.0", floor: undefined, slotBytes: 1000 },
      }),
    ).toMatchObject({
      kind: "none",
      detail: expect.stringContaining("inactive slot holds 1000"),
    });
  });

  test("an untrusted signer and an unreachable file: failed (retried with backoff)", async () => {
    expect(await check("/ranged/other-key.fupd")).toMatchObject({
      kind: "failed",
      detail: expect.stringContaining("does not trust"),
    });
    expect(await check("/ranged/nope.fupd")).toMatchObject({
      kind: "failed",
      detail: expect.stringContaining("HTTP 404"),
    });
  });
});

describe("the poller against the server", () => {
  test("two failed checks back off, the third finds 1.1 and applies it into the slot; then it stops", async () => {
    flakyLeft = 2;
    seen.length = 0;
    const url = `${base}/flaky/1.1.fupd`;
    const slot = join(dir, "slot.img");
    writeFileSync(slot, new Uint8Array(SLOT_BYTES).fill(0xee));
    const events: string[] = [];
    let committed: string | undefined;
    const poller = new UpdatePoller(
      { url, intervalMs: 60_000, firstCheckMs: 20, retryBaseMs: 20 },
      {
        check: () => check("/flaky/1.1.fupd"),
        apply: async () => {
          const r = await applyArtifact({
            source: url,
            trustedKeys: [publicKeyOf(KEY)],
            facts: { product: "fulcrum", running: "1.0", floor: undefined },
            force: false,
            target: {
              device: slot,
              bytes: SLOT_BYTES,
              prepare: async () => {},
              commit: async (m) => {
                committed = m.version;
                return "entry";
              },
            },
            stagingPath: join(dir, "staging"),
          });
          return r.ok
            ? { ok: true, pendingReboot: true, detail: "written" }
            : { ok: false, pendingReboot: false, detail: r.reason };
        },
        facts: () => ({ busy: false, pendingReboot: false }),
        emit: (event, reason) => events.push(`${event}: ${reason}`),
      },
    );
    try {
      poller.start(true);
      await waitFor(() => poller.phase === "done", 30_000, "the poller to apply 1.1");
    } finally {
      poller.stop();
    }
    expect(committed).toBe("1.1");
    expect(Buffer.compare(readFileSync(slot).subarray(0, ROOT.length), Buffer.from(ROOT))).toBe(0);
    const names = events.map((e) => e.slice(0, e.indexOf(":")));
    expect(names).toEqual(["update.poll", "update.check_failed", "update.check_failed", "update.available"]);
    expect(events[1]).toContain("HTTP 503 (1 in a row)");
    // Checks asked for the header only; the one full download is the apply's.
    const flaky = seen.filter((s) => s.path === "/flaky/1.1.fupd");
    expect(flaky.map((s) => s.range)).toEqual([
      `bytes=0-${FIRST_RANGE_BYTES - 1}`,
      `bytes=0-${FIRST_RANGE_BYTES - 1}`,
      `bytes=0-${FIRST_RANGE_BYTES - 1}`,
      null,
    ]);
  });
});

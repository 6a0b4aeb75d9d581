// The chunked artifact (format 2) end to end against files, with the real chunk workers: packed
// releases round-trip into the slot; a corrupted, truncated, reordered or duplicated chunk, and a chunk
// whose decompressed size lies, are refused, and nothing switches. Refusals in step 2 leave the slot's
// bytes untouched; failures in step 3 (after prepare) never reach commit.
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, zstdCompressSync } from "node:zlib";
import { type ApplyOptions, applyArtifact } from "../../src/update/apply.ts";
import { compressChunk, frameContentSize, sha256Hex } from "../../src/update/chunk.ts";
import { chunkRefs, type Manifest, parseHeader } from "../../src/update/manifest.ts";
import { packArtifact, publicKeyOf, signedHeader } from "../../src/update/pack.ts";
import { recordingSlot } from "./update-fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "fulcrum-chunks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
const CHUNK = 64 * 1024;
// 5 root chunks and 2 UKI chunks; random bytes so each chunk's frame differs from the others.
const ROOT = new Uint8Array(4 * CHUNK + 1234);
for (let i = 0; i < ROOT.length; i += 65536)
  crypto.getRandomValues(ROOT.subarray(i, Math.min(ROOT.length, i + 65536)));
for (let i = 0; i < ROOT.length; i += 4) ROOT[i] = 0; // compressible, but not to nothing
const UKI = new Uint8Array(CHUNK + 999).map((_, i) => (i * 13) & 0xff);
const SLOT_BYTES = 6 * CHUNK;
const OLD_SLOT = new Uint8Array(SLOT_BYTES).fill(0xee);

interface Packed {
  manifest: Manifest;
  header: Uint8Array;
  root: Uint8Array[];
  uki: Uint8Array[];
}

function pack(): Packed {
  const { manifest, parts } = packArtifact({
    root: ROOT,
    uki: UKI,
    version: "2.0",
    build: "t",
    minVersion: "0",
    privateKeyPem: KEY,
    chunkSize: CHUNK,
  });
  const rootCount = manifest.payloads[0]?.chunks.length ?? 0;
  return {
    manifest,
    header: parts[0] as Uint8Array,
    root: parts.slice(1, 1 + rootCount),
    uki: parts.slice(1 + rootCount),
  };
}

/** A re-signed manifest whose root chunk list is `chunks` (the packer's signature over an altered list). */
function withRootChunks(p: Packed, chunks: Manifest["payloads"][number]["chunks"]): Uint8Array {
  const [root, uki] = p.manifest.payloads;
  if (root === undefined || uki === undefined) throw new Error("no payloads");
  return signedHeader({ ...p.manifest, payloads: [{ ...root, chunks }, uki] }, KEY);
}

const entryOf = (z: Uint8Array) => ({ size: z.length, sha256: sha256Hex(z) });

let n = 0;
function fixture(parts: readonly Uint8Array[], extra: Partial<ApplyOptions> = {}) {
  n++;
  const source = join(dir, `a${n}.fupd`);
  const device = join(dir, `slot${n}.img`);
  writeFileSync(source, Buffer.concat(parts));
  const slot = recordingSlot(device, OLD_SLOT);
  const run = (o: Partial<ApplyOptions> = {}) =>
    applyArtifact({
      source,
      trustedKeys: [publicKeyOf(KEY)],
      facts: { product: "fulcrum", running: "1.0", floor: undefined },
      force: false,
      target: slot.target,
      stagingPath: join(dir, `staging${n}`),
      ...extra,
      ...o,
    });
  return {
    run,
    calls: slot.calls,
    slot: slot.slot,
    slotUnchanged: slot.slotUnchanged,
    uki: slot.uki,
    source,
  };
}

describe("chunk frames", () => {
  test("a packed chunk declares its content size and carries zstd's checksum", () => {
    const raw = ROOT.subarray(0, CHUNK);
    const z = compressChunk(raw, 3);
    expect(frameContentSize(z)).toBe(CHUNK);
    expect(Buffer.compare(Bun.zstdDecompressSync(z), Buffer.from(raw))).toBe(0);
    expect(frameContentSize(z.subarray(0, 3))).toContain("too short");
    expect(frameContentSize(new Uint8Array(16))).toContain("not a zstd frame");
    // Bun's own compressor writes no checksum: refused by this format.
    expect(frameContentSize(Bun.zstdCompressSync(raw))).toContain("without a content checksum");
  });

  test("every chunk has its place: offsets in the artifact and in the payload add up", () => {
    const p = pack();
    const h = parseHeader(p.header);
    if (h.kind !== "header") throw new Error("no header");
    const refs = chunkRefs(h.header);
    expect(refs.map((r) => `${r.payload}${r.index}`)).toEqual([
      "root0",
      "root1",
      "root2",
      "root3",
      "root4",
      "uki0",
      "uki1",
    ]);
    expect(refs[0]?.at).toBe(p.header.length);
    expect(refs[5]?.at).toBe(p.header.length + p.root.reduce((s, c) => s + c.length, 0));
    expect(refs[4]).toMatchObject({ rawAt: 4 * CHUNK, rawSize: 1234 });
    expect(refs[6]).toMatchObject({ rawAt: CHUNK, rawSize: 999 });
  });
});

describe("pack -> apply", () => {
  for (const workers of [1, 2, 3]) {
    test(`round trip with ${workers} worker(s): the slot holds the root, the UKI comes back whole`, async () => {
      const p = pack();
      const f = fixture([p.header, ...p.root, ...p.uki]);
      const r = await f.run({ workers });
      expect(r).toMatchObject({ ok: true, entry: "fulcrum_2.0+3.efi" });
      expect(f.calls).toEqual(["prepare 2.0", "commit 2.0"]);
      const slot = f.slot();
      expect(Buffer.compare(slot.subarray(0, ROOT.length), Buffer.from(ROOT))).toBe(0);
      expect(Buffer.compare(slot.subarray(ROOT.length), Buffer.from(OLD_SLOT.subarray(ROOT.length)))).toBe(0);
      expect(Buffer.compare(Buffer.from(f.uki() ?? []), Buffer.from(UKI))).toBe(0);
      expect(sha256Hex(slot.subarray(0, ROOT.length))).toBe(p.manifest.payloads[0]?.sha256 ?? "");
    });
  }

  test("the same artifact streamed (an upload) is staged, checked and written the same way", async () => {
    const p = pack();
    const bytes = Buffer.concat([p.header, ...p.root, ...p.uki]);
    const f = fixture([]);
    // Odd-sized pieces so chunk boundaries fall inside them.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let at = 0; at < bytes.length; at += 10_007) c.enqueue(bytes.subarray(at, at + 10_007));
        c.close();
      },
    });
    const r = await f.run({ source: { stream, label: "test" } });
    expect(r).toMatchObject({ ok: true });
    expect(Buffer.compare(f.slot().subarray(0, ROOT.length), Buffer.from(ROOT))).toBe(0);
  });
});

describe("refused before the slot is touched (step 2)", () => {
  const refusals: [string, (p: Packed) => Uint8Array[], string | RegExp][] = [
    [
      "a corrupted chunk",
      (p) => {
        const c = (p.root[2] as Uint8Array).slice();
        c[100] = (c[100] ?? 0) ^ 0x40;
        return [p.header, ...p.root.slice(0, 2), c, ...p.root.slice(3), ...p.uki];
      },
      "payload root chunk 2 is corrupt",
    ],
    [
      "a truncated last chunk",
      (p) => [p.header, ...p.root, p.uki[0] as Uint8Array, (p.uki[1] as Uint8Array).subarray(0, 10)],
      "the manifest says",
    ],
    [
      "two chunks swapped in the file",
      (p) => [p.header, p.root[1] as Uint8Array, p.root[0] as Uint8Array, ...p.root.slice(2), ...p.uki],
      "payload root chunk 0 is corrupt",
    ],
    [
      "a signed list in another order than the file",
      (p) => {
        const [a, b, ...rest] = p.root.map(entryOf);
        if (a === undefined || b === undefined) throw new Error("few chunks");
        return [withRootChunks(p, [b, a, ...rest]), ...p.root, ...p.uki];
      },
      "payload root chunk 0 is corrupt",
    ],
    [
      "a chunk duplicated in the file in place of the next",
      (p) => [p.header, p.root[0] as Uint8Array, p.root[0] as Uint8Array, ...p.root.slice(2), ...p.uki],
      // Its size may differ from the chunk it replaces (then the file's length is wrong) or not.
      /payload root chunk 1 is corrupt|the manifest says/,
    ],
    [
      "a signed list with one chunk listed twice",
      (p) => {
        const list = p.root.map(entryOf);
        return [withRootChunks(p, [list[0] as ReturnType<typeof entryOf>, ...list]), ...p.root, ...p.uki];
      },
      "lists 6 chunks",
    ],
  ];
  for (const [what, make, reason] of refusals) {
    test(`${what} is refused, the slot untouched, nothing prepared`, async () => {
      const f = fixture(make(pack()));
      const r = await f.run();
      const matching =
        typeof reason === "string" ? expect.stringContaining(reason) : expect.stringMatching(reason);
      expect(r).toMatchObject({ ok: false, reason: matching });
      expect(f.calls).toEqual([]);
      expect(f.slotUnchanged()).toBe(true);
    });
  }

  test("a truncated chunk arriving as a stream is named", async () => {
    const p = pack();
    const bytes = Buffer.concat([p.header, ...p.root, ...p.uki]).subarray(0, p.header.length + 3 * 1000);
    const f = fixture([]);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
    const r = await f.run({ source: { stream, label: "test" } });
    expect(r).toMatchObject({
      ok: false,
      stage: "payload",
      reason: expect.stringContaining("truncated: payload root chunk 0"),
    });
    expect(f.calls).toEqual([]);
    expect(f.slotUnchanged()).toBe(true);
  });
});

describe("aborted before the switch (step 3)", () => {
  /** The artifact with root chunk 1 replaced by `frame`, listed and signed as such (it passes step 2). */
  const withSignedChunk1 = (p: Packed, frame: Uint8Array): Uint8Array[] => {
    const list = p.root.map(entryOf);
    list[1] = entryOf(frame);
    return [withRootChunks(p, list), p.root[0] as Uint8Array, frame, ...p.root.slice(2), ...p.uki];
  };
  /** The apply fails while writing: the slot was prepared, nothing was committed. */
  const expectAbortedWhileWriting = async (f: ReturnType<typeof fixture>, reason: string) => {
    expect(await f.run()).toMatchObject({
      ok: false,
      stage: "write",
      reason: expect.stringContaining(reason),
    });
    expect(f.calls).toEqual(["prepare 2.0"]);
  };

  test("a chunk whose decompressed size lies (signed, so it passes step 2) never reaches commit", async () => {
    // Chunk 1 holds 100 bytes fewer than its place in the payload, in a frame that says so.
    const short = compressChunk(ROOT.subarray(CHUNK, 2 * CHUNK - 100), 3);
    await expectAbortedWhileWriting(
      fixture(withSignedChunk1(pack(), short)),
      `payload root chunk 1 declares ${CHUNK - 100} raw bytes; the manifest says ${CHUNK}`,
    );
  });

  test("a frame that hides its content size is refused before it is decompressed", async () => {
    const raw = ROOT.subarray(CHUNK, 2 * CHUNK);
    const hidden = new Uint8Array(
      zstdCompressSync(raw, {
        params: { [constants.ZSTD_c_contentSizeFlag]: 0, [constants.ZSTD_c_checksumFlag]: 1 },
      }),
    );
    expect(frameContentSize(hidden)).toContain("does not declare its content size");
    await expectAbortedWhileWriting(
      fixture(withSignedChunk1(pack(), hidden)),
      "does not declare its content size",
    );
  });

  test("a chunk changed in the file after it was checked is caught when it is read again", async () => {
    const p = pack();
    const parts = [p.header, ...p.root, ...p.uki];
    let f: ReturnType<typeof fixture> | undefined;
    // Between step 2 and step 3: one byte of root chunk 3 changes on disk.
    const at = p.header.length + p.root.slice(0, 3).reduce((s, c) => s + c.length, 0) + 50;
    f = fixture(parts, {
      onChecked: () => {
        const b = readFileSync(f?.source ?? "");
        b[at] = (b[at] ?? 0) ^ 0x01;
        writeFileSync(f?.source ?? "", b);
      },
    });
    await expectAbortedWhileWriting(f, "payload root chunk 3 is corrupt");
  });
});

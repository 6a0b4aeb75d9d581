// applyArtifact end to end against files: a temp file stands in for the inactive slot and a recording
// target for the ESP. Every refusal must leave the slot's bytes untouched and never call prepare().
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyArtifact, type SlotTarget } from "../../src/update/apply.ts";
import { packArtifact, publicKeyOf } from "../../src/update/pack.ts";
import { recordingSlot } from "./update-fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "fulcrum-update-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pem = (): string =>
  generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
const KEY = pem();
const SLOT_BYTES = 4 * 1024 * 1024;
// 1 MiB that does not compress, then zeros (as in a real slot image's free space).
const ROOT = new Uint8Array(3 * 1024 * 1024 + 17);
for (let i = 0; i < 1024 * 1024; i += 65536) crypto.getRandomValues(ROOT.subarray(i, i + 65536));
const UKI = new Uint8Array(40_000).map((_, i) => i & 0x7f);
const OLD_SLOT = new Uint8Array(SLOT_BYTES).fill(0xee);

function pack(version: string, key = KEY): Uint8Array {
  const { parts } = packArtifact({
    root: ROOT,
    uki: UKI,
    version,
    build: "t",
    minVersion: "0",
    privateKeyPem: key,
  });
  return Buffer.concat(parts);
}

let n = 0;
function fixture(bytes: Uint8Array) {
  n++;
  const source = join(dir, `a${n}.fupd`);
  const device = join(dir, `slot${n}.img`);
  writeFileSync(source, bytes);
  const slot = recordingSlot(device, OLD_SLOT);
  const run = (o: { force?: boolean; running?: string; keys?: Uint8Array[] } = {}) =>
    applyArtifact({
      source,
      trustedKeys: o.keys ?? [publicKeyOf(KEY)],
      facts: { product: "fulcrum", running: o.running ?? "1.0", floor: undefined },
      force: o.force ?? false,
      target: slot.target,
      stagingPath: join(dir, `staging${n}`),
    });
  return { run, calls: slot.calls, slotUnchanged: slot.slotUnchanged, uki: slot.uki, device };
}

describe("applying an artifact", () => {
  test("a good update is written to the slot, hashed, and switched with its UKI", async () => {
    const f = fixture(pack("1.1"));
    const r = await f.run();
    expect(r).toMatchObject({ ok: true, entry: "fulcrum_1.1+3.efi", downgrade: false });
    expect(f.calls).toEqual(["prepare 1.1", "commit 1.1"]);
    const slot = readFileSync(f.device);
    expect(Buffer.compare(slot.subarray(0, ROOT.length), Buffer.from(ROOT))).toBe(0);
    expect(slot.length).toBe(SLOT_BYTES); // the rest of the slot is left as it was
    expect(Buffer.compare(Buffer.from(f.uki() ?? []), Buffer.from(UKI))).toBe(0);
  });

  const refusals: [string, () => Uint8Array, string, string][] = [
    [
      "a tampered manifest (bad signature)",
      () => {
        const b = pack("1.1");
        const at = Buffer.from(b).indexOf('"build":"t"');
        b[at + 9] = "u".charCodeAt(0);
        return b;
      },
      "header",
      "bad signature",
    ],
    ["a key the box does not trust", () => pack("1.1", pem()), "header", "does not trust"],
    ["a truncated download", () => pack("1.1").subarray(0, 500_000), "payload", "bytes; the manifest says"],
    [
      "one corrupted byte in the payload",
      () => {
        const b = pack("1.1");
        const at = b.length - 30_000;
        b[at] = (b[at] ?? 0) ^ 0x01;
        return b;
      },
      "payload",
      "is corrupt",
    ],
    ["trailing bytes", () => Buffer.concat([pack("1.1"), Buffer.from("x")]), "payload", "manifest says"],
    ["a downgrade", () => pack("0.9"), "header", "downgrade refused"],
    ["not an artifact at all", () => new Uint8Array(1000), "header", "bad magic"],
  ];
  for (const [what, make, stage, reason] of refusals) {
    test(`${what} is refused before anything is written`, async () => {
      const f = fixture(make());
      const r = await f.run();
      expect(r).toMatchObject({ ok: false, stage, reason: expect.stringContaining(reason) });
      expect(f.calls).toEqual([]);
      expect(f.slotUnchanged()).toBe(true);
    });
  }

  test("a downgrade the operator forces is written and flagged as one", async () => {
    const f = fixture(pack("0.9"));
    expect(await f.run({ force: true })).toMatchObject({ ok: true, downgrade: true });
    expect(f.calls).toEqual(["prepare 0.9", "commit 0.9 downgrade"]);
  });

  test("a missing file and a relative path are refused with a clear reason", async () => {
    const f = fixture(pack("1.1"));
    const target: SlotTarget = {
      device: f.device,
      bytes: SLOT_BYTES,
      prepare: async () => {},
      commit: async () => "",
    };
    const base = {
      trustedKeys: [],
      facts: { product: "fulcrum", running: "1.0", floor: undefined },
      force: false,
      target,
      stagingPath: join(dir, "s"),
    };
    expect(await applyArtifact({ ...base, source: join(dir, "nope.fupd") })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("cannot read"),
    });
    expect(await applyArtifact({ ...base, source: "update.fupd" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("absolute path"),
    });
  });
});

// The updater's pure core: versions, manifest and header framing, signatures, policy, the record on
// /data, the bless clock and the disk layout parsers.
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { blessFinished, blessPolicy, startBless, stepBless } from "../../src/update/bless.ts";
import { entryFile, parseEntry, pickSlots, staleEntries } from "../../src/update/layout.ts";
import {
  artifactBytes,
  encodeHeader,
  type Manifest,
  parseHeader,
  parseManifest,
} from "../../src/update/manifest.ts";
import { packArtifact, publicKeyOf } from "../../src/update/pack.ts";
import { checkPolicy } from "../../src/update/policy.ts";
import { formatProgress } from "../../src/update/progress.ts";
import { EMPTY_RECORD, onBoot, onCommitted, onWritten, parseRecord } from "../../src/update/record.ts";
import { msUntilWindow } from "../../src/update/service.ts";
import { checkSignature } from "../../src/update/signature.ts";
import { compareVersions, isVersion } from "../../src/update/version.ts";

const pem = (): string =>
  generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
const KEY = pem();
const OTHER = pem();

function artifact(version = "1.2.0", minVersion = "0", key = KEY) {
  const root = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const uki = new Uint8Array(5_000).fill(9);
  return packArtifact({ root, uki, version, build: "b1", minVersion, privateKeyPem: key });
}

function header(parts: Uint8Array[]) {
  const h = parseHeader(parts[0] as Uint8Array);
  if (h.kind !== "header") throw new Error(`no header: ${JSON.stringify(h)}`);
  return h.header;
}

describe("versions", () => {
  test("compare numerically, field by field, missing fields are 0", () => {
    expect(compareVersions("0.1.0.20261123152432", "0.1.0.20261123152433")).toBeLessThan(0);
    expect(compareVersions("1.10", "1.9")).toBeGreaterThan(0);
    expect(compareVersions("1.0", "1")).toBe(0);
    expect(isVersion("1.2.3")).toBe(true);
    expect(isVersion("1.2-rc1")).toBe(false);
    expect(isVersion("")).toBe(false);
  });
});

describe("manifest and header", () => {
  test("a packed artifact's header parses back to its manifest, and its length adds up", () => {
    const { manifest, parts } = artifact();
    const h = header(parts);
    expect(h.manifest).toEqual(manifest);
    expect(artifactBytes(h)).toBe(parts.reduce((n, p) => n + p.length, 0));
  });

  test("a header arriving in pieces asks for more, then parses", () => {
    const bytes = artifact().parts[0] as Uint8Array;
    expect(parseHeader(bytes.subarray(0, 10)).kind).toBe("need-more");
    const partial = parseHeader(bytes.subarray(0, 30));
    expect(partial).toEqual({ kind: "need-more", atLeast: bytes.length });
    expect(parseHeader(bytes).kind).toBe("header");
  });

  test("bad magic, absurd lengths and malformed manifests are refused with a reason", () => {
    const bytes = (artifact().parts[0] as Uint8Array).slice();
    bytes[0] = 0x58;
    expect(parseHeader(bytes)).toMatchObject({ kind: "invalid", reason: expect.stringContaining("magic") });
    const huge = (artifact().parts[0] as Uint8Array).slice();
    new DataView(huge.buffer).setUint32(16, 10_000_000);
    expect(parseHeader(huge)).toMatchObject({
      kind: "invalid",
      reason: expect.stringContaining("manifest length"),
    });
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    expect(parseManifest(new TextEncoder().encode("{"))).toContain("not JSON");
    expect(parseManifest(enc({ format: 3 }))).toContain("format 3");
    const good = artifact().manifest;
    expect(parseManifest(enc({ ...good, version: "1.x" }))).toContain("dotted number");
    expect(parseManifest(enc({ ...good, payloads: [good.payloads[1], good.payloads[0]] }))).toContain(
      "must be 'root'",
    );
    const p0 = good.payloads[0] as Manifest["payloads"][number];
    expect(parseManifest(enc({ ...good, payloads: [{ ...p0, size: -1 }, good.payloads[1]] }))).toContain(
      "size",
    );
    const c0 = p0.chunks[0] as Manifest["payloads"][number]["chunks"][number];
    const withRoot = (root: unknown) => parseManifest(enc({ ...good, payloads: [root, good.payloads[1]] }));
    expect(withRoot({ ...p0, chunks: [{ ...c0, size: p0.size + 2 * 1024 * 1024 }] })).toContain(
      "compressed size",
    );
    expect(withRoot({ ...p0, chunks: [c0, c0] })).toContain("lists 2 chunks");
    expect(withRoot({ ...p0, chunks: [] })).toContain("lists 0 chunks");
    expect(withRoot({ ...p0, chunkSize: 1000 })).toContain("chunkSize");
    expect(withRoot({ ...p0, chunks: [{ ...c0, sha256: "x" }] })).toContain("sha256");
    expect(parseManifest(enc({ ...good, format: 1 }))).toContain("format 1 (one zstd stream per payload)");
  });
});

describe("signatures", () => {
  test("a trusted key verifies; several keys may be trusted at once (rotation)", () => {
    const h = header(artifact().parts);
    expect(checkSignature(h, [publicKeyOf(OTHER), publicKeyOf(KEY)])).toMatchObject({ ok: true });
  });

  test("an untrusted signer is refused, naming its fingerprint", () => {
    const h = header(artifact("1.2.0", "0", OTHER).parts);
    const r = checkSignature(h, [publicKeyOf(KEY)]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain("does not trust");
  });

  test("one changed byte in the manifest breaks the signature", () => {
    const h = header(artifact().parts);
    const text = new TextDecoder().decode(h.manifestBytes).replace('"b1"', '"b2"');
    const tampered = parseHeader(encodeHeader(new TextEncoder().encode(text), h.signer, h.signature));
    if (tampered.kind !== "header") throw new Error("tampered header did not parse");
    const r = checkSignature(tampered.header, [publicKeyOf(KEY)]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain("bad signature");
  });
});

describe("policy", () => {
  const m = artifact("1.2.0", "1.0").manifest;
  const box = { product: "fulcrum", running: "1.1.0", floor: undefined, slotBytes: 1 << 20, force: false };
  test("an upgrade that fits is allowed", () => {
    expect(checkPolicy(m, box)).toEqual({ ok: true, downgrade: false });
  });
  test("a downgrade below the running release or the recorded floor is refused unless forced", () => {
    expect(checkPolicy(m, { ...box, running: "1.3" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("downgrade refused"),
    });
    expect(checkPolicy(m, { ...box, floor: "1.5" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("older than 1.5"),
    });
    expect(checkPolicy(m, { ...box, floor: "1.5", force: true })).toEqual({ ok: true, downgrade: true });
  });
  test("same version, too old a box, wrong product and a payload larger than the slot are refused", () => {
    expect(checkPolicy(m, { ...box, running: "1.2.0" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("already running"),
    });
    expect(checkPolicy(m, { ...box, running: "0.9" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("needs at least 1.0"),
    });
    expect(checkPolicy(m, { ...box, product: "other" })).toMatchObject({ ok: false });
    expect(checkPolicy(m, { ...box, slotBytes: 1000 })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("slot holds 1000"),
    });
  });
});

describe("update record", () => {
  const pending = {
    from: "1.0",
    to: "1.1",
    slot: "B",
    entry: "fulcrum_1.1+3.efi",
    atIso: "t",
    forced: false,
  };
  test("booting the new release is a trial; committing it raises the floor and clears the pending update", () => {
    const r = onWritten(EMPTY_RECORD, pending);
    expect(onBoot(r, "1.1", "t2").finding.kind).toBe("trying");
    const c = onCommitted(r, "1.1", "t3");
    expect(c.floor).toBe("1.1");
    expect(c.pending).toBeUndefined();
    expect(c.last?.result).toBe("committed");
  });
  test("booting the old release with an update pending means the boot loader rolled back, and says so", () => {
    const { record, finding } = onBoot(onWritten(EMPTY_RECORD, pending), "1.0", "t2");
    expect(finding.kind).toBe("rolled-back");
    expect(finding.kind === "rolled-back" && finding.message).toBe(
      "the update to 1.1 failed (it did not become healthy within its boot tries), running 1.0 again",
    );
    expect(record.pending).toBeUndefined();
    expect(record.last?.result).toBe("rolled-back");
  });
  test("the floor never goes down (a committed forced downgrade keeps it)", () => {
    expect(onCommitted({ ...EMPTY_RECORD, floor: "2.0" }, "1.5", "t").floor).toBe("2.0");
  });
  test("a malformed file reads as empty with a reason; a good one round-trips", () => {
    expect(parseRecord("{oops").problem).toContain("not JSON");
    const r = onWritten({ ...EMPTY_RECORD, floor: "1.0" }, pending);
    expect(parseRecord(JSON.stringify(r)).record).toEqual(r);
  });
});

describe("bless clock", () => {
  const policy = blessPolicy(60);
  const up = { configLoaded: true, vrrpUp: true, ipvsUp: true };
  test("an uncounted boot is never blessed or rebooted", () => {
    expect(stepBless(startBless(false, 0), up, 1e9, policy).action.kind).toBe("none");
  });
  test("blessed after bless_after of unbroken health; a dip restarts the clock", () => {
    let s = startBless(true, 0);
    s = stepBless(s, up, 1_000, policy).state;
    s = stepBless(s, { ...up, ipvsUp: false }, 50_000, policy).state;
    const early = stepBless(s, up, 60_000, policy);
    expect(early.action.kind).toBe("none");
    const later = stepBless(stepBless(early.state, up, 100_000, policy).state, up, 120_001, policy);
    expect(later.action).toEqual({ kind: "bless", healthyMs: 60_001 });
    expect(stepBless(later.state, up, 130_000, policy).action.kind).toBe("none");
  });
  test("never healthy: rebooted after the give-up time so the boot loader spends a try", () => {
    const s = startBless(true, 0);
    const a = stepBless(s, { ...up, vrrpUp: false }, 300_000, policy).action;
    expect(a.kind).toBe("reboot");
    expect(a.kind === "reboot" && a.reason).toContain("VRRP down");
    expect(blessFinished(false, 5).phase).toBe("probation");
  });
});

describe("disk layout", () => {
  const sfdisk = JSON.stringify({
    partitiontable: {
      label: "gpt",
      device: "/dev/vda",
      sectorsize: 512,
      partitions: [
        {
          node: "/dev/vda1",
          start: 2048,
          size: 196608,
          type: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
          name: "ESP",
        },
        {
          node: "/dev/vda2",
          start: 198656,
          size: 819200,
          type: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
          name: "fulcrum_1.0",
        },
        {
          node: "/dev/vda3",
          start: 1017856,
          size: 819200,
          type: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
          name: "_empty",
        },
        {
          node: "/dev/vda4",
          start: 1837056,
          size: 1000000,
          type: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
          name: "fulcrum-data",
        },
      ],
    },
  });
  test("the slots are the two root-typed partitions; the inactive one is the one not mounted", () => {
    const p = pickSlots(sfdisk, "/dev/vda2");
    expect(p).toMatchObject({
      ok: true,
      active: { device: "/dev/vda2", slot: "A", label: "fulcrum_1.0" },
      inactive: { device: "/dev/vda3", disk: "/dev/vda", number: 3, slot: "B", bytes: 819200 * 512 },
    });
    expect(pickSlots(sfdisk, "/dev/vda3")).toMatchObject({
      ok: true,
      active: { slot: "B" },
      inactive: { slot: "A" },
    });
  });
  test("a root that is not a slot, or a disk without two slots, is refused", () => {
    expect(pickSlots(sfdisk, "/dev/vda4")).toMatchObject({ ok: false });
    expect(pickSlots(sfdisk.replace(/4F68BCE3[^"]*/, "X"), "/dev/vda3")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("found 1"),
    });
    expect(pickSlots("nope", "/dev/vda2")).toMatchObject({ ok: false });
  });
  test("boot entry names follow systemd-boot's counting; stale entries are every other release's", () => {
    expect(parseEntry("fulcrum_1.2+2-1.efi")).toEqual({
      file: "fulcrum_1.2+2-1.efi",
      version: "1.2",
      left: 2,
      done: 1,
    });
    expect(parseEntry("fulcrum_1.2.efi")).toMatchObject({ version: "1.2", left: undefined });
    expect(parseEntry("fulcrum_1.2+0-3.efi")).toMatchObject({ left: 0, done: 3 });
    expect(parseEntry("BOOTX64.EFI")).toBeUndefined();
    expect(entryFile("1.3", 3)).toBe("fulcrum_1.3+3.efi");
    expect(
      staleEntries(["fulcrum_1.2.efi", "fulcrum_1.1+0-3.efi", "fulcrum_1.3+1-2.efi", "x.efi"], "1.2"),
    ).toEqual(["fulcrum_1.1+0-3.efi", "fulcrum_1.3+1-2.efi"]);
  });
});

describe("reboot window and progress", () => {
  test("time to the next window start, zero inside it, across midnight too", () => {
    const at = (h: number, m: number) => new Date(Date.UTC(2026, 0, 1, h, m));
    expect(msUntilWindow("02:00-04:00", at(1, 30))).toBe(30 * 60_000);
    expect(msUntilWindow("02:00-04:00", at(3, 0))).toBe(0);
    expect(msUntilWindow("23:00-01:00", at(0, 30))).toBe(0);
    expect(msUntilWindow("02:00-04:00", at(5, 0))).toBe(21 * 3600_000);
  });
  test("progress shows bytes, rate and ETA", () => {
    expect(formatProgress("writing", { bytes: 100 << 20, total: 400 << 20, startedMs: 0, nowMs: 2000 })).toBe(
      "writing: 100.0/400.0 MiB (25%), 50.0 MiB/s, ETA 6 s",
    );
  });
});

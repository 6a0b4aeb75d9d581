// Signed A/B updates through the real boot chain (OVMF -> systemd-boot with boot counting -> UKI), one
// guest whose disk lives through every scenario in turn:
//   1. release N boots counted and fulcrum blesses it once healthy;
//   2. bad signature, untrusted key, downgrade, truncated download, corrupted payload: all refused,
//      the inactive slot's bytes unchanged, N still running;
//   3. power cut (SIGKILL QEMU) while the inactive slot is being written: N boots again;
//   4. N+1 from the namespace's HTTP server: reboots into N+1 (slot B), blessed and committed, config
//      and SSH host key unchanged;
//   5. a broken N+2 (its PID 1 exits at once: kernel panic) uploaded through the management API: it spends its tries and
//      the boot loader returns to N+1, which reports the failed update;
//   6. polling: a reload sets `[update] url` to N+2 (rolled back here) and then to N+1 (running): each
//      is checked (header only) and left alone.
// Releases N+1 and N+2 are the lab image's root with a UKI naming another version (test/helpers/update.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ImageArtifacts } from "../../qemu/artifacts.ts";
import type { Guest, GuestOptions } from "../../qemu/guest.ts";
import { macFor } from "../../qemu/guest.ts";
import { publicKeyOf } from "../../src/update/pack.ts";
import { waitInGuest } from "../helpers/guest-files.ts";
import { createNetns, type TestNetns } from "../helpers/netns.ts";
import {
  bootAgain,
  bootGuest,
  bootRecord,
  GUEST_SETUP_TIMEOUT_MS,
  guestTestsEnabled,
  labImage,
  ovmfInstalled,
  waitExit,
  workDir,
} from "../helpers/qemu.ts";
import {
  bumpVersion,
  freshKeyPem,
  LAB_TEST_KEY_PEM,
  type TestRelease,
  writeTestRelease,
} from "../helpers/update.ts";

const NAME = "update";
const SERVER = "http://10.77.0.1:8099";
const API = "http://127.0.0.1:8080/api/v1";
const CURL = `curl -s -m 600 -H 'Authorization: Bearer update-admin-token-0123456789' -H 'Content-Type: application/json'`;
const TRIES = 2;
const STEP_TIMEOUT_MS = 10 * 60_000;

interface UpdateView {
  readonly state: string;
  readonly progress: { bytes: number; total: number; rateBps: number } | null;
  readonly lastResult: string;
  readonly bootSlot: string;
  readonly poll?: { url: string; intervalS: number; nextCheckAtMs: number | null; last: string };
}

describe.skipIf(!guestTestsEnabled)("signed A/B updates with boot counting and rollback (UEFI)", () => {
  let image: ImageArtifacts;
  let ns: TestNetns;
  let server: ReturnType<typeof Bun.spawn> | undefined;
  let guest: Guest;
  let options: Partial<GuestOptions>;
  const v: Record<"n" | "n1" | "n2" | "older", string> = { n: "", n1: "", n2: "", older: "" };
  const rel: Record<string, TestRelease> = {};
  const timings: string[] = [];
  let dir = "";

  const act = async (action: Record<string, unknown>): Promise<{ ok: boolean; message: string }> =>
    JSON.parse(
      await guest.shell.check(`${CURL} -X POST -d '${JSON.stringify(action)}' ${API}/actions`, 120_000),
    );
  const status = async (): Promise<UpdateView> =>
    JSON.parse(await guest.shell.check(`${CURL} ${API}/update`));
  const waitState = async (
    accept: (u: UpdateView) => boolean,
    timeoutMs = STEP_TIMEOUT_MS,
  ): Promise<UpdateView> =>
    JSON.parse(
      await waitInGuest(
        guest.shell,
        `${CURL} ${API}/update`,
        (out) => {
          try {
            return accept(JSON.parse(out) as UpdateView);
          } catch {
            return false;
          }
        },
        timeoutMs,
      ),
    );
  const settled = (u: UpdateView) =>
    u.state === "pending-reboot" || u.state === "failed" || u.state === "idle";
  const espEntries = async (): Promise<string[]> => {
    const out = await guest.shell.check(
      "mkdir -p /tmp/esp && mount -t vfat -o ro /dev/vda1 /tmp/esp && ls -1 /tmp/esp/EFI/Linux; umount /tmp/esp",
    );
    return out
      .trim()
      .split("\n")
      .filter((l) => l.endsWith(".efi"))
      .sort();
  };
  const sha = async (paths: string): Promise<string> => guest.shell.check(`sha256sum ${paths}`, 300_000);
  const event = (name: string) => guest.serial.events().find((e) => e["event"] === name);
  const waitEvent = (name: string, timeoutMs = 120_000) =>
    guest.serial.waitFor(new RegExp(`"event":"${name.replace(".", "\\.")}"`), timeoutMs);
  const reboot = async (): Promise<void> => {
    await guest.shell
      .run(`${CURL} -X POST -d '{"kind":"reboot"}' ${API}/actions`, 10_000)
      .catch(() => undefined);
    await waitExit(guest, 120_000);
  };
  const since = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

  beforeAll(async () => {
    if (!ovmfInstalled()) throw new Error("OVMF is not installed (scripts/setup.sh installs ovmf)");
    image = await labImage();
    v.n = image.manifest.version;
    v.n1 = bumpVersion(v.n, 1);
    v.n2 = bumpVersion(v.n, 2);
    v.older = bumpVersion(v.n, -1);
    dir = join(workDir(NAME), "..", `${NAME}-releases`);
    mkdirSync(dir, { recursive: true });
    const t0 = performance.now();
    rel["good"] = await writeTestRelease(image, dir, { version: v.n1, name: "good" });
    rel["broken"] = await writeTestRelease(image, dir, {
      version: v.n2,
      name: "broken",
      extraCmdline: "fulcrum.init=/usr/bin/false",
    });
    rel["older"] = await writeTestRelease(image, dir, { version: v.older, name: "older" });
    rel["untrusted"] = await writeTestRelease(image, dir, {
      version: v.n1,
      name: "untrusted",
      keyPem: freshKeyPem(),
    });
    // A signed manifest with one byte changed afterwards, and a payload with one byte flipped.
    const good = new Uint8Array(await Bun.file(rel["good"].path).arrayBuffer());
    const badSig = good.slice();
    const at = Buffer.from(badSig.subarray(0, 4096)).indexOf('"build":"test-good"') + 9;
    badSig[at] = "T".charCodeAt(0);
    await Bun.write(join(dir, "badsig.fupd"), badSig);
    const corrupt = good.slice();
    const mid = Math.floor(corrupt.length / 2);
    corrupt[mid] = (corrupt[mid] ?? 0) ^ 0x40;
    await Bun.write(join(dir, "corrupt.fupd"), corrupt);
    timings.push(`artifacts packed in ${since(t0)}`);

    ns = createNetns("fupd-");
    ns.ip("tuntap", "add", "tap0", "mode", "tap");
    ns.ip("addr", "add", "10.77.0.1/24", "dev", "tap0");
    ns.ip("link", "set", "tap0", "up");
    server = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        ns.name,
        process.execPath,
        join(import.meta.dir, "../helpers/update-server.ts"),
        "8099",
        dir,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    const reader = server.stdout as ReadableStream<Uint8Array>;
    for await (const chunk of reader) if (new TextDecoder().decode(chunk).includes("ready")) break;

    options = {
      boot: "uefi",
      memMiB: 768,
      netns: ns.name,
      nics: [{ netdev: "tap,ifname=tap0,script=no,downscript=no", mac: macFor(77, 0) }],
      configFile: join(import.meta.dir, "fixtures/update.toml"),
    };
    const { guest: g, readyMs } = await bootGuest(NAME, options);
    guest = g;
    timings.push(`N ready in ${(readyMs / 1000).toFixed(1)} s (UEFI)`);
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await guest?.kill();
    guest?.cleanup();
    server?.kill();
    ns?.delete();
    if (dir !== "") rmSync(dir, { recursive: true, force: true }); // ~0.5 GB of artifacts in /run (RAM)
    process.stderr.write(`  flab-update: ${timings.join("; ")}\n`);
  });

  test(
    "release N boots counted from slot A, and fulcrum blesses it once healthy for bless_after",
    async () => {
      const boot = bootRecord(guest);
      expect(boot["version"]).toBe(v.n);
      expect(boot["slot"]).toBe("A");
      expect(boot["loaderEntry"]).toBe(`fulcrum_${v.n}+2-1.efi`);
      await waitEvent("update.blessed");
      expect(String(event("update.blessed")?.["reason"])).toContain(
        `fulcrum_${v.n}+2-1.efi -> fulcrum_${v.n}.efi`,
      );
      expect(await espEntries()).toEqual([`fulcrum_${v.n}.efi`]);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "bad signature, untrusted key, downgrade, truncated download and a corrupted byte are refused before the slot is written",
    async () => {
      const t0 = performance.now();
      const slotBefore = await sha("/dev/vda3");
      // The downgrade comes from a local file on the box (as if copied there), the others by URL.
      await guest.shell.check(`curl -s -m 600 -o /data/update/older.fupd ${SERVER}/older.fupd`, 600_000);
      const refusedAtOnce: [string, string][] = [
        [`${SERVER}/badsig.fupd`, "bad signature"],
        [`${SERVER}/untrusted.fupd`, "does not trust"],
        ["/data/update/older.fupd", "downgrade refused"],
      ];
      for (const [source, reason] of refusedAtOnce) {
        const r = await act({ kind: "update", source, force: false });
        expect(r.ok).toBe(false);
        expect(r.message).toContain(reason);
      }
      // These pass the header check and fail on the payload, before the slot is prepared.
      const failLater: [string, RegExp][] = [
        [`${SERVER}/cut/good.fupd`, /truncated|download failed/],
        [`${SERVER}/corrupt.fupd`, /is corrupt/],
      ];
      for (const [url, reason] of failLater) {
        const r = await act({ kind: "update", source: url, force: false });
        expect(r.ok).toBe(true);
        const u = await waitState((s) => s.state === "failed");
        expect(u.lastResult).toMatch(reason);
      }
      await guest.shell.check("rm /data/update/older.fupd");
      expect(await sha("/dev/vda3")).toBe(slotBefore);
      expect(bootRecord(guest)["version"]).toBe(v.n);
      expect(await espEntries()).toEqual([`fulcrum_${v.n}.efi`]);
      expect(guest.serial.text()).not.toContain('"event":"update.ready"');
      timings.push(`refusals ${since(t0)}`);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "a power cut while the inactive slot is written leaves N booting",
    async () => {
      const t0 = performance.now();
      expect((await act({ kind: "update", source: `${SERVER}/good.fupd`, force: false })).ok).toBe(true);
      const u = await waitState(
        (s) => (s.state === "writing" && (s.progress?.bytes ?? 0) > 0) || s.state === "failed",
      );
      expect(u.state).toBe("writing");
      await guest.kill(); // SIGKILL QEMU: the power cut
      const again = await bootAgain(NAME, options);
      guest = again.guest;
      expect(bootRecord(guest)["version"]).toBe(v.n);
      expect(bootRecord(guest)["slot"]).toBe("A");
      expect(await espEntries()).toEqual([`fulcrum_${v.n}.efi`]);
      expect((await status()).state).toBe("idle");
      timings.push(`power cut + reboot ${since(t0)}`);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "a good update N -> N+1 from the HTTP server: reboots into slot B, blessed, config and SSH host key unchanged",
    async () => {
      const keep = "/data/config/fulcrum.toml /data/ssh/*";
      const before = await sha(keep);
      expect(before).toContain("/data/ssh/");
      const t0 = performance.now();
      const r = await act({ kind: "update", source: `${SERVER}/good.fupd`, force: false });
      expect(r.ok).toBe(true);
      expect(r.message).toContain(`update to ${v.n1} started (slot B)`);
      const u = await waitState(settled);
      expect(u.state).toBe("pending-reboot");
      const applyS = (performance.now() - t0) / 1000;
      expect(guest.serial.text()).toMatch(
        /update\.progress.*writing: [\d.]+\/[\d.]+ MiB \(\d+%\), [\d.]+ MiB\/s, ETA/,
      );
      expect(await espEntries()).toEqual([`fulcrum_${v.n1}+${TRIES}.efi`, `fulcrum_${v.n}.efi`].sort());
      await reboot();
      const again = await bootAgain(NAME, options);
      guest = again.guest;
      const boot = bootRecord(guest);
      expect(boot["version"]).toBe(v.n1);
      expect(boot["slot"]).toBe("B");
      expect(boot["loaderEntry"]).toBe(`fulcrum_${v.n1}+${TRIES - 1}-1.efi`);
      expect(event("update.trying")).toBeDefined();
      await waitEvent("update.blessed");
      expect(event("update.blessed")?.["committed"]).toBe(true);
      expect(await espEntries()).toEqual([`fulcrum_${v.n1}.efi`, `fulcrum_${v.n}.efi`].sort());
      expect(await sha(keep)).toBe(before);
      expect(event("system.data")?.["created"]).toBe(false);
      const record = JSON.parse(await guest.shell.check("cat /data/update/state.json"));
      expect(record.floor).toBe(v.n1);
      expect(record.last.result).toBe("committed");
      timings.push(
        `good update applied in ${applyS.toFixed(0)} s, rebooted and committed after ${since(t0)}`,
      );
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "a broken N+2 (PID 1 exits at start) uploaded through the API spends its tries, and the box returns to N+1 and says so",
    async () => {
      const t0 = performance.now();
      await guest.shell.check(`curl -s -m 600 -o /data/update/broken.fupd ${SERVER}/broken.fupd`, 600_000);
      // Uploaded through the management API (streamed into the box, staged on /data, then written).
      const r = JSON.parse(
        await guest.shell.check(
          `${CURL} -H 'Expect:' -X POST -T /data/update/broken.fupd ${API}/update/upload`,
          600_000,
        ),
      );
      expect(r.ok).toBe(true);
      expect(r.message).toContain(`update to ${v.n2} received and verified; writing slot A`);
      expect((await waitState(settled)).state).toBe("pending-reboot");
      await reboot();
      const again = await bootAgain(NAME, options, TRIES + 2);
      guest = again.guest;
      expect(again.failedBoots).toBe(TRIES);
      for (const serial of again.failedSerial) expect(serial).toContain("Attempted to kill init");
      expect(bootRecord(guest)["version"]).toBe(v.n1);
      expect(bootRecord(guest)["slot"]).toBe("B");
      await waitEvent("update.rolled_back", 30_000);
      expect(String(event("update.rolled_back")?.["reason"])).toBe(
        `UPDATE FAILED: the update to ${v.n2} failed (it did not become healthy within its boot tries), running ${v.n1} again`,
      );
      const u = await status();
      expect(u.state).toBe("failed");
      expect(u.lastResult).toContain(`the update to ${v.n2} failed`);
      expect(await espEntries()).toEqual([`fulcrum_${v.n1}.efi`]);
      timings.push(`broken update: ${again.failedBoots} failed boots, back on N+1 after ${since(t0)}`);
    },
    STEP_TIMEOUT_MS * 2,
  );

  test(
    "polling [update] url after a reload: the rolled-back N+2 and the running N+1 are checked and left alone",
    async () => {
      const t0 = performance.now();
      const key = Buffer.from(publicKeyOf(LAB_TEST_KEY_PEM)).toString("base64");
      const accepted = () => guest.serial.events().filter((e) => e["event"] === "update.accepted").length;
      const acceptedBefore = accepted();
      // [update] is the config's last table: appended keys land in it.
      await guest.shell.check(
        `printf '%s\\n' 'url = "${SERVER}/broken.fupd"' 'check_interval = 3600' 'trusted_keys = ["${key}"]' >> /data/config/fulcrum.toml && kill -HUP 1`,
      );
      const failedBefore = await guest.serial.waitFor(
        /"event":"update\.checked".*which failed on this box before/,
        120_000,
      );
      expect(failedBefore[0]).toContain(`offers ${v.n2}`);
      const u = await status();
      expect(u.poll).toMatchObject({ url: `${SERVER}/broken.fupd`, intervalS: 3600 });
      expect(u.poll?.nextCheckAtMs).toBeGreaterThan(Date.now() + 3000_000);
      expect(u.poll?.last).toContain("which failed on this box before");
      await guest.shell.check(
        `sed -i 's|^url = .*|url = "${SERVER}/good.fupd"|' /data/config/fulcrum.toml && kill -HUP 1`,
      );
      const current = await guest.serial.waitFor(/"event":"update\.checked".*nothing newer/, 120_000);
      expect(current[0]).toContain(`offers ${v.n1}; running ${v.n1}`);
      expect(accepted()).toBe(acceptedBefore);
      expect((await status()).state).toBe("failed"); // still the rolled-back report; nothing was applied
      timings.push(`polling: two checks after reloads in ${since(t0)}`);
    },
    STEP_TIMEOUT_MS,
  );
});

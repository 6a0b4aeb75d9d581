// The production image: what boxes are flashed with. It must boot the same way and carry none of the
// lab's tools (no debug shell, no ipvsadm, busybox, tcpdump, curl). Checked from the serial console
// (production has no shell to ask) and by reading both images' root filesystems on the host.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ImageArtifacts } from "../../qemu/artifacts.ts";
import type { Guest } from "../../qemu/guest.ts";
import {
  bootGuest,
  GUEST_SETUP_TIMEOUT_MS,
  guestTestsEnabled,
  labImage,
  SHELL_TEST_TIMEOUT_MS,
} from "../helpers/qemu.ts";

const LAB_ONLY = [
  "/usr/sbin/ipvsadm",
  "/usr/bin/busybox",
  "/usr/bin/tcpdump",
  "/usr/bin/curl",
  "/usr/bin/ping",
];
const BOTH = [
  "/usr/lib/fulcrum/bun",
  "/usr/lib/fulcrum/fulcrum.js",
  "/usr/lib/fulcrum/fulcrum.js.jsc", // its precompiled bytecode
  "/usr/lib/fulcrum/fulcrum-init.js", // PID 1's own bundle
  "/usr/lib/fulcrum/fulcrum-init.js.jsc",
  "/usr/lib/fulcrum/init",
  "/usr/sbin/modprobe",
  "/usr/sbin/sfdisk",
  "/usr/sbin/mkfs.ext4",
];

function inRoot(image: ImageArtifacts, path: string): boolean {
  const root = join(image.dir, image.manifest.files.root);
  // dump.erofs (1.5) exits 0 even for a missing path: look for its "File : <path>" answer instead.
  const r = Bun.spawnSync(["dump.erofs", `--path=${path}`, root], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().startsWith(`File : ${path}\n`);
}

describe.skipIf(!guestTestsEnabled)("production image", () => {
  let production: ImageArtifacts;
  let lab: ImageArtifacts;
  let guest: Guest;

  beforeAll(async () => {
    production = await labImage("production");
    lab = await labImage("lab");
    const { guest: g, readyMs } = await bootGuest("production", { image: production });
    guest = g;
    process.stderr.write(
      `  flab-production: fulcrum ready ${(readyMs / 1000).toFixed(1)} s after qemu start\n`,
    );
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await guest?.kill();
    guest?.cleanup();
  });

  test("carries the app and its tools but none of the lab's (which the lab image does carry)", () => {
    for (const p of BOTH)
      expect({ path: p, production: inRoot(production, p), lab: inRoot(lab, p) }).toEqual({
        path: p,
        production: true,
        lab: true,
      });
    for (const p of LAB_ONLY)
      expect({ path: p, production: inRoot(production, p), lab: inRoot(lab, p) }).toEqual({
        path: p,
        production: false,
        lab: true,
      });
  });

  test("boots to ready as a production image, with no debug shell", () => {
    const events = guest.serial.events();
    const boot = events.find((e) => e["event"] === "system.boot");
    const image = (boot?.["image"] ?? {}) as Record<string, unknown>;
    expect(image["profile"]).toBe("production");
    expect(image["debugShell"]).toBeNull();
    expect(events.some((e) => e["event"] === "system.debug_shell")).toBe(false);
    expect(events.some((e) => e["event"] === "fulcrum.ready")).toBe(true);
    expect(events.find((e) => e["event"] === "system.data")?.["mode"]).toBe("rw");
  });

  test(
    "the ACPI power button (QMP system_powerdown) powers the box off in order",
    async () => {
      await guest.qmp("system_powerdown");
      const code = await Promise.race([guest.exited, Bun.sleep(45_000).then(() => -1)]);
      expect(code).not.toBe(-1);
      const text = guest.serial.text();
      expect(text).toContain("poweroff requested: power button");
      expect(text).toMatch(/data (unmounted|remounted read-only)/);
    },
    SHELL_TEST_TIMEOUT_MS,
  );
});

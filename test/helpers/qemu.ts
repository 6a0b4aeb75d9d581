// Shared set-up for guest tests (test/guest): each test file boots its guest(s) once in beforeAll and
// runs many assertions against it. The lab image is built on demand (cached on its inputs outside
// the clone, so only the first file of a run, or the first run after a change, pays for the build).
//
// Guest tests need root (taps, namespaces, mkosi). Without root they skip; in CI (CI=true, always
// root) a missing tool or a failed build fails the run instead of skipping anything.
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { ensureImage, type ImageArtifacts, type ImageProfile, REPO_ROOT } from "../../qemu/artifacts.ts";
import { Guest, type GuestOptions } from "../../qemu/guest.ts";

export const isRoot = process.getuid?.() === 0;
export const inCi = process.env["CI"] === "true";

/** Guest tests run when root; and outside CI also only when QEMU is installed. */
export const guestTestsEnabled = isRoot && (inCi || Bun.which("qemu-system-x86_64") !== null);

/** Time for beforeAll: a cold image build (packages downloaded) plus a TCG boot. */
export const GUEST_SETUP_TIMEOUT_MS = 20 * 60 * 1000;
export const BOOT_TIMEOUT_MS = 180_000;
/** A test that runs a few commands in a booted guest (TCG is slow; a loaded host slower). */
export const SHELL_TEST_TIMEOUT_MS = 60_000;

const images = new Map<ImageProfile, Promise<ImageArtifacts>>();

export function labImage(profile: ImageProfile = "lab"): Promise<ImageArtifacts> {
  let p = images.get(profile);
  if (p === undefined) {
    p = ensureImage(profile, (line) => process.stderr.write(`  ${line}\n`));
    images.set(profile, p);
  }
  return p;
}

/**
 * A guest's work directory (disk overlay, logs, sockets). Keyed on the checkout too: test runs from
 * different clones or worktrees at the same time never share (and wipe) each other's guests.
 */
export function workDir(name: string): string {
  return join("/run", "flab-tests", basename(REPO_ROOT), name);
}

/** Boots one guest of the lab image; the caller kills it in afterAll (guest.kill(); guest.cleanup()). */
export async function bootGuest(
  name: string,
  options: Partial<GuestOptions> = {},
): Promise<{ guest: Guest; readyMs: number }> {
  const image = options.image ?? (await labImage());
  const guest = await Guest.start({
    name: `flab-${name}`,
    image,
    boot: "direct",
    workDir: workDir(name),
    ...options,
  });
  try {
    const readyMs = await guest.waitReady(BOOT_TIMEOUT_MS);
    return { guest, readyMs };
  } catch (err) {
    await guest.kill();
    throw err;
  }
}

export function ovmfInstalled(): boolean {
  return existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd");
}

/** What PID 1 reported about this boot (the `system.boot` event): slot, version, UEFI entry. */
export function bootRecord(guest: Guest): Record<string, unknown> {
  const boot = guest.serial.events().find((e) => e["event"] === "system.boot")?.["boot"];
  if (typeof boot !== "object" || boot === null) throw new Error(`${guest.name}: no system.boot event yet`);
  return boot as Record<string, unknown>;
}

/** Waits for QEMU to exit (guests run with -no-reboot, so a reboot ends QEMU); throws after the deadline. */
export async function waitExit(guest: Guest, timeoutMs = 90_000): Promise<number> {
  const code = await Promise.race([guest.exited, Bun.sleep(timeoutMs).then(() => undefined)]);
  if (code === undefined) throw new Error(`${guest.name}: QEMU did not exit within ${timeoutMs} ms`);
  return code;
}

/**
 * Starts the guest again on the disk it left behind (a reboot or a power cut keeps the disk and the
 * EFI variables) until one boot reaches "fulcrum ready"; boots that end first (a panic, a failed
 * slot) are counted. Throws after `maxBoots` boots without one becoming ready.
 */
export async function bootAgain(
  name: string,
  options: Partial<GuestOptions>,
  maxBoots = 1,
): Promise<{ guest: Guest; readyMs: number; failedBoots: number; failedSerial: string[] }> {
  const image = options.image ?? (await labImage());
  const failedSerial: string[] = [];
  for (let boot = 0; boot < maxBoots; boot++) {
    const guest = await Guest.start({
      name: `flab-${name}`,
      image,
      boot: "direct",
      workDir: workDir(name),
      ...options,
      reuseDisk: true,
    });
    const ready = guest.waitReady(BOOT_TIMEOUT_MS).then(
      (ms) => ms,
      () => undefined,
    );
    const outcome = await Promise.race([ready, guest.exited.then(() => "exited" as const)]);
    if (typeof outcome === "number") return { guest, readyMs: outcome, failedBoots: boot, failedSerial };
    failedSerial.push(guest.serial.text());
    await guest.kill();
  }
  throw new Error(`${name}: no boot reached "fulcrum ready" in ${maxBoots} boots`);
}

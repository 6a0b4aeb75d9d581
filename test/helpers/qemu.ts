// Shared set-up for guest tests (test/guest): each test file boots its guest(s) once in beforeAll and
// runs many assertions against it. The lab image is built on demand (cached on its inputs outside
// the clone, so only the first file of a run, or the first run after a change, pays for the build).
//
// Guest tests need root (taps, namespaces, mkosi). Without root they skip; in CI (CI=true, always
// root) a missing tool or a failed build fails the run instead of skipping anything.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureImage, type ImageArtifacts, type ImageProfile } from "../../qemu/artifacts.ts";
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

export function workDir(name: string): string {
  return join("/run", "flab-tests", name);
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

/**
 * Bundles `entry` (a small TS program) on the host and copies it into the guest through the debug shell
 * as base64 lines; returns its path in the guest. For exercising src/ functions in a booted box.
 */
export async function pushScript(guest: Guest, entry: string, name: string): Promise<string> {
  const out = join(workDir("bundles"), `${name}.js`);
  const built = await Bun.build({
    entrypoints: [entry],
    target: "bun",
    outdir: workDir("bundles"),
    naming: `${name}.js`,
  });
  if (!built.success) throw new Error(`bundling ${entry} failed: ${built.logs.join("\n")}`);
  const b64 = Buffer.from(await Bun.file(out).arrayBuffer()).toString("base64");
  const target = `/tmp/${name}.js`;
  await guest.shell.check(`: > ${target}.b64`);
  const CHUNK = 2048;
  for (let i = 0; i < b64.length; i += CHUNK) {
    await guest.shell.check(`echo '${b64.slice(i, i + CHUNK)}' >> ${target}.b64`);
  }
  await guest.shell.check(`base64 -d ${target}.b64 > ${target} && rm ${target}.b64`);
  return target;
}

// Edge boxes (Atom C3000 and the like) have no AVX2: the image carries Bun's baseline build. A guest
// on a CPU model without AVX/AVX2 must still boot to "fulcrum ready" and run fulcrum commands.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Guest } from "../../qemu/guest.ts";
import {
  bootGuest,
  GUEST_SETUP_TIMEOUT_MS,
  guestTestsEnabled,
  SHELL_TEST_TIMEOUT_MS,
} from "../helpers/qemu.ts";

describe.skipIf(!guestTestsEnabled)("fulcrum on a CPU without AVX2 (-cpu Nehalem)", () => {
  let guest: Guest;

  beforeAll(async () => {
    const { guest: g, readyMs } = await bootGuest("nehalem", { cpu: "Nehalem" });
    guest = g;
    process.stderr.write(`  flab-nehalem: fulcrum ready ${(readyMs / 1000).toFixed(1)} s after qemu start\n`);
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await guest?.kill();
    guest?.cleanup();
  });

  test(
    "the guest CPU really lacks AVX and AVX2",
    async () => {
      const flags = await guest.shell.check("grep -m1 '^flags' /proc/cpuinfo");
      expect(flags).not.toMatch(/\bavx2\b/);
      expect(flags).not.toMatch(/\bavx\b/);
      expect(flags).toMatch(/\bsse4_2\b/);
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "fulcrum runs: PID 1 reached ready, and the CLI answers",
    async () => {
      expect(guest.serial.text()).toContain("fulcrum ready");
      expect(await guest.shell.check("readlink /proc/1/exe")).toBe("/usr/lib/fulcrum/bun\n");
      expect(await guest.shell.check("fulcrum --version")).toMatch(/^fulcrum \d+\.\d+\.\d+ \(build \S+\)\n$/);
      expect((await guest.shell.run("fulcrum check /data/config/fulcrum.toml")).code).toBe(0);
    },
    SHELL_TEST_TIMEOUT_MS,
  );
});

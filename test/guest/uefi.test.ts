// The real boot chain: OVMF -> systemd-boot -> the slot's UKI (named with a tries counter) -> our
// initramfs -> the erofs root of slot A -> fulcrum as PID 1. One guest, many checks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Guest } from "../../qemu/guest.ts";
import {
  bootAgain,
  bootGuest,
  bootRecord,
  GUEST_SETUP_TIMEOUT_MS,
  guestTestsEnabled,
  labImage,
  ovmfInstalled,
  SHELL_TEST_TIMEOUT_MS,
  waitExit,
} from "../helpers/qemu.ts";

describe.skipIf(!guestTestsEnabled)("appliance boot through UEFI, systemd-boot and the UKI", () => {
  let guest: Guest;
  let version = "";

  beforeAll(async () => {
    if (!ovmfInstalled()) throw new Error("OVMF is not installed (scripts/setup.sh installs ovmf)");
    version = (await labImage()).manifest.version;
    const { guest: g, readyMs } = await bootGuest("uefi", { boot: "uefi" });
    guest = g;
    process.stderr.write(
      `  flab-uefi: fulcrum ready ${(readyMs / 1000).toFixed(1)} s after qemu start (UEFI path)\n`,
    );
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await guest?.kill();
    guest?.cleanup();
  });

  test(
    "systemd-boot started the slot's UKI and is counting its tries (3 -> 2 left, 1 done)",
    () => {
      const boot = bootRecord(guest);
      expect(boot["uefi"]).toBe(true);
      expect(boot["loaderEntry"]).toBe(`fulcrum_${version}+2-1.efi`);
      expect(boot["slot"]).toBe("A");
      expect(boot["version"]).toBe(version);
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "the UKI carries the command line that names this slot's root by its partition label",
    async () => {
      const cmdline = await guest.shell.check("cat /proc/cmdline");
      expect(cmdline).toContain(`fulcrum.root=PARTLABEL=fulcrum_${version}`);
      expect(await guest.shell.check("ls /sys/firmware/efi/efivars | grep -c 4a67b082 || true")).not.toBe(
        "0\n",
      );
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "the disk holds ESP, root A, the empty root B and the data partition made on first boot",
    async () => {
      const names = await guest.shell.check(
        "for p in /sys/class/block/vda[0-9]*; do grep PARTNAME $p/uevent || echo PARTNAME=; done",
      );
      expect(names.trim().split("\n")).toEqual([
        "PARTNAME=ESP",
        `PARTNAME=fulcrum_${version}`,
        "PARTNAME=_empty",
        "PARTNAME=",
      ]);
      expect(await guest.shell.check("cat /proc/mounts")).toMatch(/^\/dev\/vda4 \/data ext4 rw/m);
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "PID 1 is fulcrum here too",
    async () => {
      expect(await guest.shell.check("readlink /proc/1/exe")).toBe("/usr/lib/fulcrum/bun\n");
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "fulcrum blesses the boot once healthy for bless_after (default 60 s), and the next boot is not counted",
    async () => {
      await guest.serial.waitFor(/"event":"update\.blessed"/, 180_000);
      const blessed = guest.serial.events().find((e) => e["event"] === "update.blessed");
      expect(String(blessed?.["reason"])).toContain(`fulcrum_${version}+2-1.efi -> fulcrum_${version}.efi`);
      await guest.shell.run("kill -TERM 1", 5_000).catch(() => undefined); // reboot: QEMU exits (-no-reboot)
      await waitExit(guest, 60_000);
      expect(guest.serial.text()).toContain("reboot requested: SIGTERM");
      guest = (await bootAgain("uefi", { boot: "uefi" })).guest;
      expect(bootRecord(guest)["loaderEntry"]).toBe(`fulcrum_${version}.efi`);
      const data = guest.serial.events().find((e) => e["event"] === "system.data");
      expect(data?.["created"]).toBe(false);
      expect(guest.serial.text()).not.toContain('"event":"update.probation"');
    },
    5 * 60_000,
  );
});

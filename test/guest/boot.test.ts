// The appliance boots: a lab-profile guest (direct kernel boot, no config handed in) is checked from
// its serial console and from the inside through the lab debug shell. Then it is powered off through
// PID 1 and booted again from the same disk: the data partition survives and is not re-created.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Guest } from "../../qemu/guest.ts";
import {
  BOOT_TIMEOUT_MS,
  bootGuest,
  GUEST_SETUP_TIMEOUT_MS,
  guestTestsEnabled,
  SHELL_TEST_TIMEOUT_MS,
} from "../helpers/qemu.ts";

describe.skipIf(!guestTestsEnabled)("appliance boot (direct kernel boot, lab image)", () => {
  let guest: Guest;
  let readyMs = 0;

  beforeAll(async () => {
    ({ guest, readyMs } = await bootGuest("boot"));
    process.stderr.write(
      `  flab-boot: fulcrum ready ${(readyMs / 1000).toFixed(1)} s after qemu start (first boot)\n`,
    );
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await guest?.kill();
    guest?.cleanup();
  });

  test(
    "PID 1 is fulcrum (the baseline Bun running its init bundle)",
    async () => {
      expect(await guest.shell.check("readlink /proc/1/exe")).toBe("/usr/lib/fulcrum/bun\n");
      const cmdline = (await guest.shell.check("tr '\\0' ' ' < /proc/1/cmdline")).trim();
      expect(cmdline).toBe("/usr/lib/fulcrum/bun /usr/lib/fulcrum/fulcrum-init.js /data/config/fulcrum.toml");
      const ready = guest.serial.events().find((e) => e["event"] === "fulcrum.ready");
      expect(ready?.["reason"]).toBe("fulcrum ready");
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "nothing else owns the box: no systemd, udev, getty or networkd",
    async () => {
      // A process may exit between the glob and the read: ignore those, not the command's result.
      const comms = (await guest.shell.check("cat /proc/[0-9]*/comm 2>/dev/null; true")).split("\n");
      expect(comms).toContain("kthreadd"); // the listing itself worked
      for (const unwanted of ["systemd", "systemd-udevd", "agetty", "systemd-network", "udevd"]) {
        expect(comms).not.toContain(unwanted);
      }
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "IPVS and its schedulers are loaded (crc32c soft dependency first), ipvsadm talks to it",
    async () => {
      // The schedulers and link kinds are loaded after the daemon's start, off the critical path.
      const deferred = await guest.serial.waitForEvent(
        (e) => e["event"] === "system.modules_deferred",
        60_000,
      );
      expect(deferred["failed"]).toEqual([]);
      expect(deferred["errors"]).toEqual([]);
      // ... once the daemon has said it is ready, so that they do not compete with its start.
      const order = guest.serial.events().map((e) => e["event"]);
      expect(order.indexOf("fulcrum.ready")).toBeGreaterThanOrEqual(0);
      expect(order.indexOf("system.modules_deferred")).toBeGreaterThan(order.indexOf("fulcrum.ready"));
      const modules = await guest.shell.check("cut -d' ' -f1 /proc/modules");
      // The q35 guest's AHCI controller is not the boot disk's: coldplug gives it no driver.
      expect(modules.split("\n")).not.toContain("ahci");
      for (const m of [
        "ip_vs",
        "ip_vs_rr",
        "ip_vs_wrr",
        "ip_vs_wlc",
        "ip_vs_sh",
        "ip_vs_mh",
        "libcrc32c",
        "crc32c_generic",
        "8021q",
        "macvlan",
      ]) {
        expect(modules.split("\n")).toContain(m);
      }
      expect(await guest.shell.check("ipvsadm -Ln")).toContain("IP Virtual Server version");
      // What a daemon quicker than the deferred load relies on: the kernel loads a scheduler on first use.
      await guest.shell.check("modprobe -r ip_vs_sed");
      expect(await guest.shell.check("cut -d' ' -f1 /proc/modules")).not.toContain("ip_vs_sed\n");
      await guest.shell.check("ipvsadm -A -t 10.255.0.1:80 -s sed");
      expect(await guest.shell.check("ipvsadm -Ln -t 10.255.0.1:80")).toContain("10.255.0.1:80 sed");
      expect((await guest.shell.check("cut -d' ' -f1 /proc/modules")).split("\n")).toContain("ip_vs_sed");
      await guest.shell.check("ipvsadm -D -t 10.255.0.1:80");
      const report = guest.serial.events().find((e) => e["event"] === "system.modules");
      expect(report?.["failed"]).toEqual([]);
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "root is the slot's erofs, read-only; /data is the data partition, ext4 read-write",
    async () => {
      const mounts = await guest.shell.check("cat /proc/mounts");
      expect(mounts).toMatch(/^\/dev\/vda2 \/ erofs ro[, ]/m);
      expect(mounts).toMatch(/^\/dev\/vda4 \/data ext4 rw[, ]/m);
      expect((await guest.shell.run("touch /usr/flab-probe")).code).not.toBe(0);
      await guest.shell.check("echo persisted > /data/state/flab-probe && sync");
      const label = await guest.shell.check("grep PARTNAME /sys/class/block/vda2/uevent");
      expect(label).toMatch(/^PARTNAME=fulcrum_\S+$/m);
      for (const fs of ["/proc", "/sys", "/dev", "/dev/pts", "/run", "/tmp"]) {
        expect(mounts).toContain(` ${fs} `);
      }
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "a first boot without a config starts on the safe default and says so on the console",
    async () => {
      const text = guest.serial.text();
      expect(text).toContain("starting with the SAFE DEFAULT (console up, no VIPs)");
      expect(text).toContain(
        "data partition /dev/vda4 mounted read-write on /data (created on this first boot)",
      );
      const loaded = guest.serial.events().find((e) => e["event"] === "config.loaded");
      expect(loaded?.["path"]).toBe("/data/config/fulcrum.toml");
      expect(await guest.shell.check("head -1 /data/config/fulcrum.toml")).toContain("safe default");
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test(
    "the hardware watchdog is armed and fed",
    async () => {
      expect((await guest.shell.check("cat /sys/class/watchdog/watchdog0/state")).trim()).toBe("active");
      expect(guest.serial.text()).toContain("watchdog /dev/watchdog0 (i6300ESB timer) armed");
    },
    SHELL_TEST_TIMEOUT_MS,
  );

  test("orphans are reaped by PID 1", async () => {
    // The subshell exits at once, so its `sleep` is re-parented to PID 1; when it exits it stays a
    // zombie until PID 1 reaps it (Bun itself only reaps the children it spawned).
    const pid = (await guest.shell.check("(sleep 1 >/dev/null 2>&1 & echo $!)")).trim();
    expect(pid).toMatch(/^\d+$/);
    expect((await guest.shell.check(`cut -d' ' -f4 /proc/${pid}/stat`)).trim()).toBe("1");
    const deadline = performance.now() + 20_000;
    let gone = false;
    while (!gone && performance.now() < deadline) {
      gone = (await guest.shell.run(`test -e /proc/${pid}`)).code !== 0;
      if (!gone) await Bun.sleep(250);
    }
    expect(gone).toBe(true);
  }, 30_000);

  test(
    "the daemon is PID 1's child; kill -9 of it: PID 1 says why and starts it again at once",
    async () => {
      const pid = (await guest.shell.check("cat /run/fulcrum/daemon.pid")).trim();
      expect(pid).toMatch(/^\d+$/);
      expect(pid).not.toBe("1");
      expect((await guest.shell.check(`cut -d' ' -f4 /proc/${pid}/stat`)).trim()).toBe("1");
      expect((await guest.shell.check(`tr '\\0' ' ' < /proc/${pid}/cmdline`)).trim()).toBe(
        "/usr/lib/fulcrum/bun /usr/lib/fulcrum/fulcrum.js run /data/config/fulcrum.toml",
      );
      const seen = guest.serial.events().length;
      await guest.shell.check(`kill -9 ${pid}`);
      const exited = await guest.serial.waitForEvent(
        (e) => e["event"] === "system.daemon_exited",
        20_000,
        seen,
      );
      expect(exited["signal"]).toBe("SIGKILL");
      expect(exited["decision"]).toBe("restart");
      expect(String(exited["reason"])).toContain("killed by SIGKILL; restarting it (exit 1 within 60 s)");
      await guest.serial.waitForEvent((e) => e["event"] === "fulcrum.ready", BOOT_TIMEOUT_MS, seen);
      const again = (await guest.shell.check("cat /run/fulcrum/daemon.pid")).trim();
      expect(again).toMatch(/^\d+$/);
      expect(again).not.toBe(pid);
      expect((await guest.shell.check(`cut -d' ' -f4 /proc/${again}/stat`)).trim()).toBe("1");
    },
    BOOT_TIMEOUT_MS + 30_000,
  );

  test(
    "power-off through PID 1 is orderly, and the data partition survives the next boot",
    async () => {
      await guest.shell.run("kill -USR2 1", 5_000).catch(() => undefined); // the shell dies with the box
      const code = await Promise.race([guest.exited, Bun.sleep(60_000).then(() => -1)]);
      expect(code).not.toBe(-1);
      const text = guest.serial.text();
      expect(text).toContain("poweroff requested: SIGUSR2");
      expect(text).toMatch(/data (unmounted|remounted read-only)/);

      const again = await bootGuest("boot", { reuseDisk: true });
      guest = again.guest;
      process.stderr.write(
        `  flab-boot: fulcrum ready ${(again.readyMs / 1000).toFixed(1)} s after qemu start (second boot)\n`,
      );
      expect(await guest.shell.check("cat /data/state/flab-probe")).toBe("persisted\n");
      const data = guest.serial.events().find((e) => e["event"] === "system.data");
      expect(data?.["created"]).toBe(false);
      expect(data?.["device"]).toBe("/dev/vda4");
      expect(guest.serial.text()).not.toContain("SAFE DEFAULT");
    },
    BOOT_TIMEOUT_MS + 60_000,
  );
});

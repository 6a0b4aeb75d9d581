// Pure parts of the PID 1 duties (src/system) and of the QEMU harness: parsers, decisions, argv.
// The real thing is exercised in test/guest; these pin the edge cases quickly.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPeSection } from "../../qemu/artifacts.ts";
import { Guest, macFor } from "../../qemu/guest.ts";
import { parseConfig } from "../../src/config/load.ts";
import { decodeEfiString, versionFromLabel } from "../../src/system/boot.ts";
import {
  createdPartitionNumber,
  dataPartitionScript,
  freeSectorsAtEnd,
  parseUevent,
  partitionNumberByName,
} from "../../src/system/datapart.ts";
import { parseImageInfo } from "../../src/system/image-info.ts";
import {
  classifyModules,
  isDeviceAlias,
  parseModulesBuiltin,
  parseProcModules,
  REQUIRED_MODULES,
} from "../../src/system/modules.ts";
import {
  EARLY_MOUNTS,
  findMount,
  isReadOnly,
  missingMounts,
  parseMountInfo,
} from "../../src/system/mounts.ts";
import { SIGNAL_ACTIONS } from "../../src/system/power.ts";
import { hasPowerPress, INPUT_EVENT_BYTES } from "../../src/system/power-button.ts";
import { DEFAULT_CONFIG_TOML, provisionConfig } from "../../src/system/provision.ts";
import { parseStat } from "../../src/system/reaper.ts";
import { feedIntervalMs } from "../../src/system/watchdog.ts";

const MOUNTINFO = `22 1 254:2 / / ro,relatime shared:1 - erofs /dev/vda2 ro,user_xattr
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:3 - sysfs sysfs rw
30 22 254:4 / /data rw,nosuid,nodev,noatime shared:9 - ext4 /dev/vda4 rw,errors=remount-ro
31 22 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw
garbage line without separator
`;

describe("mountinfo", () => {
  const entries = parseMountInfo(MOUNTINFO);

  test("parses targets, types, sources and options; skips garbage", () => {
    expect(entries).toHaveLength(5);
    expect(findMount(entries, "/")).toEqual({
      target: "/",
      fstype: "erofs",
      source: "/dev/vda2",
      options: ["ro", "relatime"],
    });
    expect(findMount(entries, "/mnt/with space")?.fstype).toBe("tmpfs");
  });

  test("read-only detection uses the per-mount options", () => {
    expect(isReadOnly(findMount(entries, "/")!)).toBe(true);
    expect(isReadOnly(findMount(entries, "/data")!)).toBe(false);
  });

  test("only what is not mounted yet is planned", () => {
    const missing = missingMounts(EARLY_MOUNTS, entries).map((m) => m.target);
    expect(missing).not.toContain("/proc");
    expect(missing).not.toContain("/sys");
    expect(missing).toContain("/dev");
    expect(missing).toContain("/run");
    expect(missing).toContain("/tmp");
  });

  test("the last mount on a target wins", () => {
    const stacked = parseMountInfo(`${MOUNTINFO}40 30 0:50 / /data rw - tmpfs tmpfs rw\n`);
    expect(findMount(stacked, "/data")?.fstype).toBe("tmpfs");
  });
});

describe("modules", () => {
  test("IPVS, its schedulers and the crc32c soft dependency are required, crc32c first", () => {
    expect(REQUIRED_MODULES[0]).toBe("crc32c_generic");
    for (const m of ["ip_vs", "ip_vs_rr", "ip_vs_wlc", "ip_vs_sh", "ip_vs_mh", "8021q", "macvlan"]) {
      expect(REQUIRED_MODULES).toContain(m);
    }
  });

  test("classifies loaded, built-in and failed modules (dashes and underscores are the same)", () => {
    const loaded = parseProcModules("ip_vs 200704 0 - Live 0x0\ncrc32c_generic 12288 0 - Live 0x0\n");
    const builtin = parseModulesBuiltin(
      "kernel/net/packet/af_packet.ko\nkernel/drivers/virtio/virtio_pci.ko\n",
    );
    expect(classifyModules(["ip-vs", "af_packet", "ip_vs_rr", "crc32c_generic"], loaded, builtin)).toEqual({
      loaded: ["ip_vs", "crc32c_generic"],
      builtin: ["af_packet"],
      failed: ["ip_vs_rr"],
    });
  });

  test("coldplug skips the CPU alias (crypto accelerators and KVM are not wanted)", () => {
    expect(isDeviceAlias("cpu:type:x86,ven0000fam0006mod003A:feature:,0000,0001")).toBe(false);
    expect(isDeviceAlias("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00")).toBe(true);
    expect(isDeviceAlias("virtio:d00000001v00001AF4")).toBe(true);
  });

  test("coldplug skips PCI mass-storage controllers (the initramfs loaded the boot disk's driver)", () => {
    // q35's AHCI controller (class 01, subclass 06) and a virtio block device (class 01, subclass 00)
    expect(isDeviceAlias("pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01")).toBe(false);
    expect(isDeviceAlias("pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00")).toBe(false);
    // a NIC (class 02) and a watchdog (class 08) still get their drivers
    expect(isDeviceAlias("pci:v00008086d000025ABsv00001AF4sd00001100bc08sc80i00")).toBe(true);
    expect(isDeviceAlias("pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00")).toBe(true);
  });
});

describe("data partition", () => {
  const SFDISK = JSON.stringify({
    partitiontable: {
      label: "gpt",
      sectorsize: 512,
      partitions: [
        { node: "/dev/vda1", start: 2048, size: 196608, name: "ESP" },
        { node: "/dev/vda2", start: 198656, size: 819200, name: "fulcrum_0.1.0.1" },
        { node: "/dev/vda3", start: 1017856, size: 819200, name: "_empty" },
        { node: "/dev/vda4", start: 1837056, size: 1000000, name: "fulcrum-data" },
      ],
    },
  });

  test("free space after the last partition leaves room for the backup GPT", () => {
    const parts = [
      { start: 2048, size: 196608 },
      { start: 1017856, size: 819200 },
      { start: 198656, size: 819200 },
    ];
    const end = 1017856 + 819200;
    expect(freeSectorsAtEnd(parts, end + 33 + 100)).toBe(100);
    expect(freeSectorsAtEnd(parts, end)).toBe(0);
    expect(freeSectorsAtEnd([], 1000)).toBe(967);
  });

  test("reads the new partition's number from sfdisk --append's report", () => {
    expect(
      createdPartitionNumber("Created a new partition 4 of type 'Linux filesystem' and of size 638 MiB."),
    ).toBe(4);
    expect(createdPartitionNumber("nothing here")).toBeUndefined();
  });

  test("finds the data partition's number by name, and nothing in bad input", () => {
    expect(partitionNumberByName(SFDISK, "fulcrum-data")).toBe(4);
    expect(partitionNumberByName(SFDISK, "nope")).toBeUndefined();
    expect(partitionNumberByName("not json", "fulcrum-data")).toBeUndefined();
  });

  test("sfdisk script: all remaining space, Linux data type, our name", () => {
    expect(dataPartitionScript()).toBe(
      'size=+, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="fulcrum-data"\n',
    );
  });

  test("uevent parsing keeps values with '=' in them", () => {
    const u = parseUevent("MAJOR=254\nDEVNAME=vda2\nPARTNAME=fulcrum_1=2\n");
    expect(u.get("DEVNAME")).toBe("vda2");
    expect(u.get("PARTNAME")).toBe("fulcrum_1=2");
  });
});

describe("config provisioning", () => {
  test("the safe default validates and claims nothing", () => {
    const r = parseConfig(DEFAULT_CONFIG_TOML, "default.toml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.services).toEqual([]);
    expect(r.config.interfaces).toEqual([]);
    expect(r.config.system.ssh.enabled).toBe(false);
  });

  test("seeds from fw_cfg, else the default; never overwrites an existing config", () => {
    const dir = mkdtempSync(join(tmpdir(), "flab-unit-"));
    try {
      const fw = join(dir, "fw.toml");
      writeFileSync(fw, '[system]\nhostname = "from-fw"\n');
      const p1 = join(dir, "a", "fulcrum.toml");
      expect(provisionConfig(p1, fw)).toEqual({ path: p1, source: "fw_cfg" });
      expect(readFileSync(p1, "utf8")).toContain("from-fw");
      const p2 = join(dir, "b", "fulcrum.toml");
      expect(provisionConfig(p2, join(dir, "missing"))).toEqual({ path: p2, source: "default" });
      expect(readFileSync(p2, "utf8")).toBe(DEFAULT_CONFIG_TOML);
      writeFileSync(p2, "# edited\n");
      expect(provisionConfig(p2, fw)).toEqual({ path: p2, source: "data" });
      expect(readFileSync(p2, "utf8")).toBe("# edited\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("small PID 1 pieces", () => {
  test("watchdog feed interval: a third of the timeout, within 1..10 s", () => {
    expect(feedIntervalMs(30)).toBe(10_000);
    expect(feedIntervalMs(9)).toBe(3_000);
    expect(feedIntervalMs(1)).toBe(1_000);
    expect(feedIntervalMs(Number.NaN)).toBe(10_000);
    expect(feedIntervalMs(-5)).toBe(10_000);
  });

  test("/proc/<pid>/stat with spaces and parens in the command", () => {
    expect(parseStat("4242 (my (odd) cmd) Z 1 4242 4242 0 -1")).toEqual({ pid: 4242, state: "Z", ppid: 1 });
    expect(parseStat("garbage")).toBeUndefined();
  });

  test("power button: only a KEY_POWER press counts", () => {
    const buf = new Uint8Array(INPUT_EVENT_BYTES * 2);
    const v = new DataView(buf.buffer);
    v.setUint16(16, 1, true); // EV_KEY
    v.setUint16(18, 116, true); // KEY_POWER
    v.setInt32(20, 0, true); // release
    expect(hasPowerPress(buf, INPUT_EVENT_BYTES)).toBe(false);
    v.setUint16(INPUT_EVENT_BYTES + 16, 1, true);
    v.setUint16(INPUT_EVENT_BYTES + 18, 116, true);
    v.setInt32(INPUT_EVENT_BYTES + 20, 1, true); // press
    expect(hasPowerPress(buf, buf.byteLength)).toBe(true);
    expect(hasPowerPress(buf, INPUT_EVENT_BYTES + 10)).toBe(false); // a partial event is ignored
  });

  test("signals map to power actions the way init conventions do", () => {
    expect(SIGNAL_ACTIONS["SIGTERM"]).toBe("reboot");
    expect(SIGNAL_ACTIONS["SIGINT"]).toBe("reboot");
    expect(SIGNAL_ACTIONS["SIGUSR2"]).toBe("poweroff");
  });

  test("EFI string variables and slot labels", () => {
    const text = "\\EFI\\Linux\\fulcrum_0.1.0.7+2-1.efi";
    const bytes = new Uint8Array(4 + text.length * 2 + 2);
    for (let i = 0; i < text.length; i++) bytes[4 + i * 2] = text.charCodeAt(i);
    expect(decodeEfiString(bytes)).toBe(text);
    expect(versionFromLabel("fulcrum_0.1.0.7")).toBe("0.1.0.7");
    expect(versionFromLabel("_empty")).toBeUndefined();
  });

  test("image.json: only a lab image gets a debug shell, and only on a /dev path", () => {
    expect(
      parseImageInfo('{"profile":"lab","version":"1","build":"b","debugShell":"/dev/hvc0"}').debugShell,
    ).toBe("/dev/hvc0");
    expect(parseImageInfo('{"profile":"production","debugShell":"/dev/hvc0"}').debugShell).toBeNull();
    expect(parseImageInfo('{"profile":"lab","debugShell":"/bin/sh"}').debugShell).toBeNull();
    expect(parseImageInfo("not json")).toEqual({
      profile: "production",
      version: "unknown",
      build: "unknown",
      debugShell: null,
    });
  });
});

describe("QEMU harness", () => {
  const image = {
    manifest: { cmdline: "console=ttyS0 fulcrum.root=PARTLABEL=fulcrum_1" },
    dir: "/x",
    disk: "/x/d.raw",
    kernel: "/x/k",
    initrd: "/x/i",
    uki: "/x/u.efi",
  } as unknown as Parameters<typeof Guest.buildArgv>[0]["image"];

  test("guests never get a NIC of QEMU's choosing or user-mode networking", () => {
    const argv = Guest.buildArgv({
      name: "flab-x",
      image,
      boot: "direct",
      workDir: "/w",
      nics: [{ netdev: "tap,ifname=tap-a0,script=no,downscript=no", mac: macFor(1, 0) }],
    });
    expect(argv).toContain("-nodefaults");
    expect(argv.join(" ")).not.toMatch(/\buser\b|hostfwd|-nic /);
    expect(argv).toContain("tap,ifname=tap-a0,script=no,downscript=no,id=n0");
    expect(argv[argv.indexOf("-append") + 1]).toBe("console=ttyS0 fulcrum.root=PARTLABEL=fulcrum_1");
    expect(argv[argv.indexOf("-cpu") + 1]).toBe("max");
  });

  test("the UEFI path boots the disk through OVMF, with no -kernel", () => {
    const argv = Guest.buildArgv({ name: "flab-x", image, boot: "uefi", workDir: "/w", cpu: "Nehalem" });
    expect(argv).not.toContain("-kernel");
    expect(argv.join(" ")).toContain("OVMF_CODE_4M.fd");
    expect(argv[argv.indexOf("-cpu") + 1]).toBe("Nehalem");
  });

  test("reads a PE section (the UKI's .cmdline) and rejects non-PE data", () => {
    const pe = new Uint8Array(0x200);
    const v = new DataView(pe.buffer);
    v.setUint16(0, 0x5a4d, true);
    v.setUint32(0x3c, 0x40, true);
    v.setUint32(0x40, 0x00004550, true);
    v.setUint16(0x40 + 6, 1, true); // one section
    v.setUint16(0x40 + 20, 0, true); // no optional header
    const h = 0x40 + 24;
    pe.set(new TextEncoder().encode(".cmdline"), h);
    v.setUint32(h + 8, 5, true); // virtual size
    v.setUint32(h + 16, 16, true); // raw size
    v.setUint32(h + 20, 0x100, true); // raw pointer
    pe.set(new TextEncoder().encode("ro x"), 0x100);
    expect(new TextDecoder().decode(readPeSection(pe, ".cmdline"))).toBe("ro x\0");
    expect(() => readPeSection(pe, ".osrel")).toThrow("no .osrel section");
    expect(() => readPeSection(new Uint8Array(100), ".cmdline")).toThrow("not a PE image");
  });
});

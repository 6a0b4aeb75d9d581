// Which slot and release this boot came from: the root mount, its GPT label (fulcrum_<version>), and
// on UEFI boots what systemd-boot told us in its EFI variables (the entry and its try counter).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { MS, mount, sync, umount } from "../../ffi/system.ts";
import { diskOfPartition, listPartitions, parseUevent } from "./datapart.ts";
import { findMount, isReadOnly, readMountInfo } from "./mounts.ts";

/** systemd-boot's vendor GUID for its EFI variables (Boot Loader Interface). */
const LOADER_GUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
const EFIVARS = "/sys/firmware/efi/efivars";

export interface BootInfo {
  readonly rootDevice: string | undefined;
  readonly rootLabel: string | undefined;
  readonly rootReadOnly: boolean;
  /** "A" or "B": the position of the root among the disk's root slots. */
  readonly slot: "A" | "B" | undefined;
  readonly version: string | undefined;
  readonly uefi: boolean;
  /** The UKI systemd-boot started, e.g. "fulcrum_0.1.0.7+2-1.efi" while its tries are counted. */
  readonly loaderEntry: string | undefined;
}

/** "fulcrum_0.1.0.7" -> "0.1.0.7". Pure. */
export function versionFromLabel(label: string | undefined): string | undefined {
  return label?.startsWith("fulcrum_") ? label.slice("fulcrum_".length) : undefined;
}

/** EFI variables are a 4-byte attribute header and UTF-16LE text ending in NUL. Pure. */
export function decodeEfiString(bytes: Uint8Array): string {
  const body = bytes.subarray(4);
  let s = "";
  for (let i = 0; i + 1 < body.length; i += 2) {
    const c = (body[i] ?? 0) | ((body[i + 1] ?? 0) << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function efiVar(name: string): string | undefined {
  const path = `${EFIVARS}/${name}-${LOADER_GUID}`;
  try {
    return decodeEfiString(new Uint8Array(readFileSync(path)));
  } catch {
    return undefined;
  }
}

export function readBootInfo(): BootInfo {
  const root = findMount(readMountInfo(), "/");
  const rootDevice = root?.source;
  let rootLabel: string | undefined;
  let slot: "A" | "B" | undefined;
  if (rootDevice?.startsWith("/dev/")) {
    try {
      rootLabel = parseUevent(readFileSync(`/sys/class/block/${basename(rootDevice)}/uevent`, "utf8")).get(
        "PARTNAME",
      );
      const disk = diskOfPartition(rootDevice);
      if (disk !== undefined) {
        // Slots are the two partitions after the ESP, in disk order; the data partition comes later.
        const slots = listPartitions(disk).filter((p) => p.label !== "ESP" && p.label !== "fulcrum-data");
        const index = slots.findIndex((p) => p.name === basename(rootDevice));
        slot = index === 0 ? "A" : index === 1 ? "B" : undefined;
      }
    } catch {
      // not a partition we can describe (e.g. a test root); leave the fields empty
    }
  }
  const uefi = existsSync("/sys/firmware/efi");
  const countPath = uefi ? efiVar("LoaderBootCountPath") : undefined;
  const selected = uefi ? efiVar("LoaderEntrySelected") : undefined;
  return {
    rootDevice,
    rootLabel,
    rootReadOnly: root !== undefined && isReadOnly(root),
    slot,
    version: versionFromLabel(rootLabel),
    uefi,
    loaderEntry: countPath !== undefined ? basename(countPath.replaceAll("\\", "/")) : selected,
  };
}

/** "fulcrum_1.2+2-1.efi" -> "fulcrum_1.2.efi"; undefined when the name carries no try counter. Pure. */
export function blessedName(entry: string): string | undefined {
  const m = entry.match(/^(.+)\+\d+(-\d+)?\.efi$/i);
  return m?.[1] === undefined ? undefined : `${m[1]}.efi`;
}

export const ESP_MOUNT_POINT = "/efi";

export type BlessResult =
  | { readonly blessed: true; readonly from: string; readonly to: string }
  | { readonly blessed: false; readonly reason: string };

/** Written once this boot is blessed: the loader's variables still name the counted entry afterwards. */
export const BLESSED_MARKER = "/run/fulcrum/boot-blessed";

function markBlessed(): void {
  try {
    mkdirSync("/run/fulcrum", { recursive: true });
    writeFileSync(BLESSED_MARKER, `${Date.now()}\n`);
  } catch {
    // only PID 1's crash-loop rule reads it; at worst a crash loop reboots a slot that was good
  }
}

/** The boot loader still counts this boot's tries: it was started from a counted entry, not yet blessed. */
export function bootStillCounted(info: BootInfo): boolean {
  return (
    info.loaderEntry !== undefined &&
    blessedName(info.loaderEntry) !== undefined &&
    !existsSync(BLESSED_MARKER)
  );
}

/** The ESP of the disk holding `rootDevice`, found by its partition label. */
export function espDevice(rootDevice: string | undefined): string | undefined {
  const disk = rootDevice === undefined ? undefined : diskOfPartition(rootDevice);
  const esp = disk === undefined ? undefined : listPartitions(disk).find((p) => p.label === "ESP");
  return esp === undefined ? undefined : `/dev/${esp.name}`;
}

/**
 * Mounts the ESP on ESP_MOUNT_POINT, runs `fn` with its path, syncs and unmounts. Throws when the ESP
 * cannot be found or mounted, or when `fn` throws.
 */
export function withEsp<T>(rootDevice: string | undefined, fn: (dir: string) => T): T {
  const device = espDevice(rootDevice);
  if (device === undefined) throw new Error("no ESP partition on the boot disk");
  mkdirSync(ESP_MOUNT_POINT, { recursive: true });
  mount({
    source: device,
    target: ESP_MOUNT_POINT,
    fstype: "vfat",
    flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
    data: "",
  });
  try {
    const result = fn(ESP_MOUNT_POINT);
    sync();
    return result;
  } finally {
    try {
      umount(ESP_MOUNT_POINT);
    } catch {
      // left mounted read-write: harmless, and the next user mounts over it
    }
  }
}

/**
 * Marks the running UKI good: systemd-boot stops counting its tries once the counter is gone from
 * its file name. Call it when the box has proven healthy (the updater's bless_after). Never throws.
 */
export function blessBoot(info: BootInfo = readBootInfo()): BlessResult {
  if (!info.uefi || info.loaderEntry === undefined)
    return { blessed: false, reason: "not booted by systemd-boot" };
  const entry = info.loaderEntry;
  const to = blessedName(entry);
  if (to === undefined) return { blessed: false, reason: `${entry} is not being counted` };
  try {
    withEsp(info.rootDevice, (esp) => {
      const dir = join(esp, "EFI", "Linux");
      renameSync(join(dir, entry), join(dir, to));
    });
    markBlessed();
    return { blessed: true, from: entry, to };
  } catch (err) {
    return { blessed: false, reason: `cannot rename the boot entry: ${String(err)}` };
  }
}

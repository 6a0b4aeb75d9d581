// The persistent data partition: config, SSH keys, update state. It is not in the flashed image; the
// first boot creates it in the free space after the root slots (so one image fits any disk size),
// formats it ext4 and mounts it read-write on /data. Updates and rollbacks only touch the root slots
// and the ESP, so the data partition survives both.
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { MS, mount } from "../../ffi/system.ts";
import { describeFailure, type ExecResult, exec } from "./exec.ts";
import { findMount, type MountEntry, readMountInfo } from "./mounts.ts";

export const DATA_PARTITION_NAME = "fulcrum-data";
export const DATA_MOUNT_POINT = "/data";
export const DATA_SUBDIRS: readonly string[] = ["config", "ssh", "update", "state"];
/** Linux filesystem data (the generic GPT type: the spec's "var" type would make systemd mount it). */
const LINUX_DATA_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const MIN_DATA_BYTES = 32 * 1024 * 1024;
const SETTLE_DEADLINE_MS = 5_000;

export interface BlockPartition {
  readonly name: string; // "vda4", "nvme0n1p4"
  readonly number: number;
  readonly label: string | undefined;
}

export interface DataReport {
  readonly device: string | undefined;
  readonly created: boolean;
  readonly formatted: boolean;
  /** "rw" normally; "tmpfs" when no partition could be had (the box runs, nothing persists). */
  readonly mode: "rw" | "tmpfs";
  readonly ms: number;
  readonly problems: readonly string[];
}

/** Parses a sysfs uevent file ("KEY=value" lines). Pure. */
export function parseUevent(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

/** The whole disk holding the partition `dev` ("/dev/vda2" -> "vda"), via sysfs. */
export function diskOfPartition(dev: string, sysClassBlock = "/sys/class/block"): string | undefined {
  const name = basename(dev);
  const link = join(sysClassBlock, name);
  if (!existsSync(join(link, "partition"))) return undefined;
  return basename(dirname(realpathSync(link)));
}

export function listPartitions(disk: string, sysBlock = "/sys/block"): BlockPartition[] {
  const parts: BlockPartition[] = [];
  let entries: string[];
  try {
    entries = readdirSync(join(sysBlock, disk));
  } catch {
    return parts;
  }
  for (const entry of entries) {
    const dir = join(sysBlock, disk, entry);
    if (!existsSync(join(dir, "partition"))) continue;
    const uevent = parseUevent(readFileSync(join(dir, "uevent"), "utf8"));
    const number = Number(readFileSync(join(dir, "partition"), "utf8").trim());
    parts.push({ name: entry, number, label: uevent.get("PARTNAME") });
  }
  return parts.sort((a, b) => a.number - b.number);
}

/** sfdisk input that appends the data partition in the largest free area at the end. Pure. */
export function dataPartitionScript(): string {
  return `size=+, type=${LINUX_DATA_TYPE}, name="${DATA_PARTITION_NAME}"\n`;
}

/** Sectors (512 bytes) free after the last partition, leaving the backup GPT's 33 sectors. Pure. */
export function freeSectorsAtEnd(
  extents: readonly { start: number; size: number }[],
  diskSectors: number,
): number {
  let end = 0;
  for (const e of extents) end = Math.max(end, e.start + e.size);
  return Math.max(0, diskSectors - end - 33);
}

/** "sfdisk: ... Created a new partition 4 of type ..." -> 4 (what `sfdisk --append` prints). Pure. */
export function createdPartitionNumber(sfdiskOutput: string): number | undefined {
  const m = sfdiskOutput.match(/Created a new partition (\d+)/);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Start and size (in 512-byte sectors, as sysfs always counts) of each partition of `disk`. */
function listPartitionExtents(disk: string): { start: number; size: number }[] {
  return listPartitions(disk).map((p) => ({
    start: Number(readFileSync(`/sys/block/${disk}/${p.name}/start`, "utf8")),
    size: Number(readFileSync(`/sys/block/${disk}/${p.name}/size`, "utf8")),
  }));
}

/** The number of the partition named `name` in `sfdisk --json` output ("/dev/vda4" -> 4). Pure. */
export function partitionNumberByName(sfdiskJson: string, name: string): number | undefined {
  let table: SfdiskTable | undefined;
  try {
    table = (JSON.parse(sfdiskJson) as { partitiontable?: SfdiskTable }).partitiontable;
  } catch {
    return undefined;
  }
  const node = table?.partitions?.find((p) => p.name === name)?.node;
  const m = node?.match(/(\d+)$/);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

interface SfdiskTable {
  readonly sectorsize?: number;
  readonly partitions?: readonly {
    readonly node?: string;
    readonly start: number;
    readonly size: number;
    readonly name?: string;
  }[];
}

/** Partitions added with partx (BLKPG) carry no PARTNAME in sysfs until the next boot: match by number. */
async function waitForPartition(disk: string, number: number): Promise<BlockPartition | undefined> {
  const deadline = performance.now() + SETTLE_DEADLINE_MS;
  for (;;) {
    const found = listPartitions(disk).find((p) => p.number === number);
    if (found !== undefined && existsSync(`/dev/${found.name}`)) return found;
    if (performance.now() > deadline) return undefined;
    await Bun.sleep(50);
  }
}

async function createPartition(disk: string, problems: string[]): Promise<BlockPartition | undefined> {
  const dev = `/dev/${disk}`;
  // Free space from sysfs (no sfdisk run: every exec costs on slow CPUs and under TCG).
  const free =
    freeSectorsAtEnd(listPartitionExtents(disk), Number(readFileSync(`/sys/block/${disk}/size`, "utf8"))) *
    512;
  if (free < MIN_DATA_BYTES) {
    problems.push(`only ${free} bytes free on ${dev}; the data partition needs ${MIN_DATA_BYTES}`);
    return undefined;
  }
  // A flashed image's backup GPT sits where the image ended, not at the end of the disk: move it.
  const relocate = await exec(["sfdisk", "--relocate", "gpt-bak-std", dev], { timeoutMs: 20_000 });
  if (relocate.code !== 0) problems.push(describeFailure(relocate));
  const append = await exec(["sfdisk", "--append", "--no-reread", "--wipe-partitions", "always", dev], {
    timeoutMs: 30_000,
    stdin: dataPartitionScript(),
  });
  if (append.code !== 0) {
    problems.push(describeFailure(append));
    return undefined;
  }
  // The disk is busy (our root is on it), so tell the kernel about the one new partition only.
  const number =
    createdPartitionNumber(append.stdout) ??
    partitionNumberByName(
      (await exec(["sfdisk", "--json", dev], { timeoutMs: 20_000 })).stdout,
      DATA_PARTITION_NAME,
    );
  if (number === undefined) {
    problems.push(`sfdisk wrote no ${DATA_PARTITION_NAME} partition on ${dev}`);
    return undefined;
  }
  const partx = await exec(["partx", "--add", "--nr", String(number), dev], { timeoutMs: 20_000 });
  const found = await waitForPartition(disk, number);
  if (found === undefined)
    problems.push(`partition ${DATA_PARTITION_NAME} did not appear: ${describeFailure(partx)}`);
  return found;
}

function mountData(device: string): void {
  mount({
    source: device,
    target: DATA_MOUNT_POINT,
    fstype: "ext4",
    flags: MS.NOSUID | MS.NODEV | MS.NOATIME,
    data: "errors=remount-ro",
  });
}

async function format(device: string): Promise<ExecResult> {
  return exec(
    [
      "mkfs.ext4",
      "-q",
      "-F",
      "-L",
      DATA_PARTITION_NAME,
      "-E",
      "lazy_itable_init=1,lazy_journal_init=1",
      device,
    ],
    {
      timeoutMs: 120_000,
    },
  );
}

/** Finds, creates, formats and mounts the data partition as needed. Never throws. */
export async function ensureDataPartition(): Promise<DataReport> {
  const started = performance.now();
  const problems: string[] = [];
  let created = false;
  let formatted = false;
  let device: string | undefined;
  try {
    const mounted = readMountInfo();
    const existing = findMount(mounted, DATA_MOUNT_POINT);
    if (existing !== undefined) {
      return {
        device: existing.source,
        created,
        formatted,
        mode: "rw",
        ms: performance.now() - started,
        problems,
      };
    }
    const root: MountEntry | undefined = findMount(mounted, "/");
    const disk = root === undefined ? undefined : diskOfPartition(root.source);
    if (disk === undefined)
      throw new Error(`cannot tell which disk holds the root (${root?.source ?? "no / mount"})`);
    let part = listPartitions(disk).find((p) => p.label === DATA_PARTITION_NAME);
    if (part === undefined) {
      part = await createPartition(disk, problems);
      created = part !== undefined;
    }
    if (part === undefined) throw new Error(`no ${DATA_PARTITION_NAME} partition on /dev/${disk}`);
    device = `/dev/${part.name}`;
    if (created) {
      const mk = await format(device);
      if (mk.code !== 0) throw new Error(describeFailure(mk));
      formatted = true;
    }
    try {
      mountData(device);
    } catch (err) {
      if (created) throw err;
      // An existing partition that does not mount was never formatted (power lost mid first boot).
      problems.push(`mount ${device} failed (${String(err)}); formatting it`);
      const mk = await format(device);
      if (mk.code !== 0) throw new Error(describeFailure(mk));
      formatted = true;
      mountData(device);
    }
    for (const sub of DATA_SUBDIRS) mkdirSync(join(DATA_MOUNT_POINT, sub), { recursive: true, mode: 0o750 });
    return { device, created, formatted, mode: "rw", ms: performance.now() - started, problems };
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
    // Keep the box usable: a RAM-backed /data, said loudly by the caller.
    try {
      mount({
        source: "tmpfs",
        target: DATA_MOUNT_POINT,
        fstype: "tmpfs",
        flags: MS.NOSUID | MS.NODEV,
        data: "mode=0755,size=10%",
      });
      for (const sub of DATA_SUBDIRS)
        mkdirSync(join(DATA_MOUNT_POINT, sub), { recursive: true, mode: 0o750 });
    } catch (tmpfsErr) {
      problems.push(`tmpfs on ${DATA_MOUNT_POINT} failed too: ${String(tmpfsErr)}`);
    }
    return { device, created, formatted, mode: "tmpfs", ms: performance.now() - started, problems };
  }
}

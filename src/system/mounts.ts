// The API filesystems PID 1 mounts before anything else runs. Idempotent: what the initramfs already
// mounted (and moved into the root) is kept; only what is missing gets mounted.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { type MountRequest, MS, mount } from "../../ffi/system.ts";

export interface MountEntry {
  readonly target: string;
  readonly fstype: string;
  readonly source: string;
  /** Per-mount options, e.g. ["ro", "relatime"]. */
  readonly options: readonly string[];
}

export interface MountSpec extends MountRequest {
  /** Created first when missing (only possible on a writable parent such as /dev or /sys/fs). */
  readonly mkdir: boolean;
  /** A failure is reported but does not stop the boot (e.g. cgroup2, efivarfs). */
  readonly optional: boolean;
}

const NOSUID_NODEV = MS.NOSUID | MS.NODEV;

export const EARLY_MOUNTS: readonly MountSpec[] = [
  spec("proc", "/proc", "proc", NOSUID_NODEV | MS.NOEXEC, ""),
  spec("sysfs", "/sys", "sysfs", NOSUID_NODEV | MS.NOEXEC, ""),
  spec("devtmpfs", "/dev", "devtmpfs", MS.NOSUID, "mode=0755"),
  spec("devpts", "/dev/pts", "devpts", MS.NOSUID | MS.NOEXEC, "gid=5,mode=0620,ptmxmode=0666", {
    mkdir: true,
  }),
  spec("tmpfs", "/dev/shm", "tmpfs", NOSUID_NODEV, "mode=1777", { mkdir: true }),
  spec("tmpfs", "/run", "tmpfs", NOSUID_NODEV, "mode=0755,size=20%"),
  spec("tmpfs", "/tmp", "tmpfs", NOSUID_NODEV, "mode=1777,size=25%"),
  spec("tmpfs", "/var/tmp", "tmpfs", NOSUID_NODEV, "mode=1777,size=10%", { optional: true }),
  spec("tmpfs", "/var/log", "tmpfs", NOSUID_NODEV, "mode=0755,size=5%", { optional: true }),
  spec("cgroup2", "/sys/fs/cgroup", "cgroup2", NOSUID_NODEV | MS.NOEXEC, "", { optional: true }),
];

/** Mounted only on UEFI boots (boot counting state lives in EFI variables). */
export const EFIVARFS_MOUNT: MountSpec = spec(
  "efivarfs",
  "/sys/firmware/efi/efivars",
  "efivarfs",
  NOSUID_NODEV | MS.NOEXEC,
  "",
  { optional: true },
);

function spec(
  source: string,
  target: string,
  fstype: string,
  flags: number,
  data: string,
  extra: { mkdir?: boolean; optional?: boolean } = {},
): MountSpec {
  return {
    source,
    target,
    fstype,
    flags,
    data,
    mkdir: extra.mkdir ?? false,
    optional: extra.optional ?? false,
  };
}

/** Parses /proc/self/mountinfo (see proc(5)); malformed lines are skipped, never thrown on. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const target = left[4];
    const options = left[5];
    const fstype = right[0];
    const source = right[1];
    if (target === undefined || options === undefined || fstype === undefined || source === undefined)
      continue;
    entries.push({
      target: unescapeOctal(target),
      fstype,
      source: unescapeOctal(source),
      options: options.split(","),
    });
  }
  return entries;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** The mount that is visible at `target` (the last one mounted there wins). */
export function findMount(entries: readonly MountEntry[], target: string): MountEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e !== undefined && e.target === target) return e;
  }
  return undefined;
}

export function isReadOnly(entry: MountEntry): boolean {
  return entry.options.includes("ro");
}

/** Which specs still need mounting, given what is mounted now. Pure. */
export function missingMounts(specs: readonly MountSpec[], mounted: readonly MountEntry[]): MountSpec[] {
  return specs.filter((s) => findMount(mounted, s.target) === undefined);
}

export function readMountInfo(): MountEntry[] {
  try {
    return parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return []; // /proc itself is not mounted yet
  }
}

export interface MountOutcome {
  readonly target: string;
  readonly result: "mounted" | "present" | "failed";
  readonly error?: string;
}

/** Mounts every spec that is not mounted yet, in order. Throws only when a required mount fails. */
export function mountAll(specs: readonly MountSpec[]): MountOutcome[] {
  const outcomes: MountOutcome[] = [];
  for (const s of specs) {
    // Re-read each time: /proc may have just been mounted by the previous step.
    if (findMount(readMountInfo(), s.target) !== undefined) {
      outcomes.push({ target: s.target, result: "present" });
      continue;
    }
    try {
      if (s.mkdir && !existsSync(s.target)) mkdirSync(s.target, { recursive: true, mode: 0o755 });
      if (!existsSync(s.target)) throw new Error(`mount point ${s.target} does not exist`);
      mount(s);
      outcomes.push({ target: s.target, result: "mounted" });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (!s.optional) throw new Error(`cannot mount ${s.fstype} on ${s.target}: ${error}`);
      outcomes.push({ target: s.target, result: "failed", error });
    }
  }
  return outcomes;
}

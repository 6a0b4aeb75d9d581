// Kernel modules: there is no udev on the box, so PID 1 loads drivers itself.
//  - coldplug: every device in /sys/devices names the driver it wants in `modalias`; kmod's modprobe
//    resolves those aliases (NICs, watchdog, power button, fw_cfg, ...);
//  - the fixed set fulcrum needs whatever the hardware: IPVS and its schedulers, VLANs, macvlan, ...
// kmod's modprobe honours soft dependencies; libcrc32c's `pre: crc32c` is loaded explicitly anyway
// (busybox modprobe ignores it, and an IPVS load that fails on a missing crc32c is hard to read).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describeFailure, exec } from "./exec.ts";

export const MODPROBE = "/usr/sbin/modprobe";

/** Loaded before the daemon starts. crc32c first: the soft dependency of libcrc32c, which ip_vs needs. */
export const BOOT_MODULES: readonly string[] = ["crc32c_generic", "ip_vs"];

/**
 * Loaded right after the daemon is released, off the boot's critical path. Nothing waits for them: the
 * kernel itself asks modprobe for each of these the moment it is first needed (IPVS for a scheduler by
 * name, rtnetlink for a link kind, a socket for its family), so a daemon quicker than this list is served
 * all the same. Loading them anyway keeps `lsmod` honest and the first use fast.
 */
export const DEFERRED_MODULES: readonly string[] = [
  "ip_vs_rr",
  "ip_vs_wrr",
  "ip_vs_lc",
  "ip_vs_wlc",
  "ip_vs_lblc",
  "ip_vs_lblcr",
  "ip_vs_dh",
  "ip_vs_sh",
  "ip_vs_sed",
  "ip_vs_nq",
  "ip_vs_fo",
  "ip_vs_ovf",
  "ip_vs_mh",
  "8021q",
  "macvlan",
  "dummy",
  "veth",
  "bonding",
  "af_packet",
];

export const REQUIRED_MODULES: readonly string[] = [...BOOT_MODULES, ...DEFERRED_MODULES];

export interface ModuleReport {
  readonly loaded: readonly string[];
  readonly builtin: readonly string[];
  readonly failed: readonly string[];
  readonly coldplugAliases: number;
  readonly ms: number;
  readonly errors: readonly string[];
}

const MAX_SYSFS_ENTRIES = 100_000;
const MAX_SYSFS_DEPTH = 16;

/** Unique modalias strings of all devices under `root` (/sys/devices); symlinks are not followed. */
export function collectModaliases(root = "/sys/devices"): string[] {
  const aliases = new Set<string>();
  let visited = 0;
  const walk = (dir: string, depth: number): void => {
    if (depth > MAX_SYSFS_DEPTH || visited > MAX_SYSFS_ENTRIES) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      visited++;
      if (e.isDirectory()) walk(join(dir, e.name), depth + 1);
      else if (e.name === "modalias" && e.isFile()) {
        try {
          const alias = readFileSync(join(dir, e.name), "utf8").trim();
          if (alias !== "") aliases.add(alias);
        } catch {
          // unreadable attribute: the device has no driver to ask for
        }
      }
    }
  };
  walk(root, 0);
  return [...aliases].sort();
}

/**
 * Device aliases worth a driver. Skipped:
 *  - the CPU's own alias (`cpu:type:x86,...`): it pulls in the kernel's crypto accelerators and KVM, which
 *    the appliance never uses (its TLS/SSH crypto runs in user space) and whose self-tests cost seconds of
 *    boot on slow CPUs and under TCG;
 *  - PCI mass-storage controllers (base class 01): the box uses its boot disk only, whose driver the
 *    initramfs has loaded; any other controller (a q35 guest's AHCI, a spare RAID card) would cost a
 *    driver load and a probe of every port on the boot's critical path for nothing.
 * Pure.
 */
export function isDeviceAlias(alias: string): boolean {
  if (alias.startsWith("cpu:")) return false;
  return !(alias.startsWith("pci:") && /bc01sc[0-9A-F]{2}i[0-9A-F]{2}$/.test(alias));
}

/** Module names as the kernel lists them (dashes become underscores). */
export function normalizeModuleName(name: string): string {
  return name.replaceAll("-", "_");
}

/** Names in /proc/modules. Pure. */
export function parseProcModules(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const name = line.split(" ")[0];
    if (name) names.add(normalizeModuleName(name));
  }
  return names;
}

/** Names in modules.builtin ("kernel/net/packet/af_packet.ko" -> "af_packet"). Pure. */
export function parseModulesBuiltin(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const base = line.trim().split("/").pop();
    if (base?.endsWith(".ko")) names.add(normalizeModuleName(base.slice(0, -3)));
  }
  return names;
}

export function classifyModules(
  wanted: readonly string[],
  loadedNow: ReadonlySet<string>,
  builtin: ReadonlySet<string>,
): { loaded: string[]; builtin: string[]; failed: string[] } {
  const out = { loaded: [] as string[], builtin: [] as string[], failed: [] as string[] };
  for (const raw of wanted) {
    const name = normalizeModuleName(raw);
    if (loadedNow.has(name)) out.loaded.push(name);
    else if (builtin.has(name)) out.builtin.push(name);
    else out.failed.push(name);
  }
  return out;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

export function kernelRelease(): string {
  return readText("/proc/sys/kernel/osrelease").trim();
}

/** Loads drivers for the present devices, then the boot set; reports what is in the kernel. */
export async function loadModules(required: readonly string[] = BOOT_MODULES): Promise<ModuleReport> {
  const started = performance.now();
  const errors: string[] = [];
  if (!existsSync(MODPROBE)) errors.push(`${MODPROBE} missing: no modules can be loaded`);
  const aliases = collectModaliases().filter(isDeviceAlias);
  // Two calls: aliases may fail individually (no driver for a device is normal), the fixed set must not.
  const [coldplug, fixed] = await Promise.all([
    aliases.length > 0
      ? exec([MODPROBE, "-a", "-q", "-b", ...aliases], { timeoutMs: 60_000 })
      : Promise.resolve(null),
    exec([MODPROBE, "-a", ...required], { timeoutMs: 60_000 }),
  ]);
  if (coldplug?.timedOut) errors.push(describeFailure(coldplug));
  if (fixed.code !== 0) errors.push(describeFailure(fixed));
  return report(required, started, errors, aliases.length);
}

/** Loads the rest of the fixed set (no coldplug); reports what is in the kernel. */
export async function loadDeferredModules(
  modules: readonly string[] = DEFERRED_MODULES,
): Promise<ModuleReport> {
  const started = performance.now();
  const errors: string[] = [];
  const r = await exec([MODPROBE, "-a", ...modules], { timeoutMs: 60_000 });
  if (r.code !== 0) errors.push(describeFailure(r));
  return report(modules, started, errors, 0);
}

function report(
  wanted: readonly string[],
  started: number,
  errors: string[],
  coldplugAliases: number,
): ModuleReport {
  const classified = classifyModules(
    wanted,
    parseProcModules(readText("/proc/modules")),
    parseModulesBuiltin(readText(`/usr/lib/modules/${kernelRelease()}/modules.builtin`)),
  );
  return { ...classified, coldplugAliases, ms: performance.now() - started, errors };
}

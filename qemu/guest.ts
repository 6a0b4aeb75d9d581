// One appliance guest under QEMU. Always -nodefaults (no NIC with a way out), TCG unless the host CPU
// really has vmx/svm, serial captured to a file, QMP for faults, and for lab images a root shell on
// the virtio console. Boots either the kernel + initrd directly (fast) or the whole disk through
// OVMF + systemd-boot + UKI (the real boot chain). The disk is a qcow2 overlay: the image stays pristine.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ImageArtifacts } from "./artifacts.ts";
import { GuestShell, qmp, SerialLog } from "./console.ts";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

export interface GuestNic {
  /** QEMU netdev spec without id, e.g. "tap,ifname=flab-ta,script=no,downscript=no". */
  readonly netdev: string;
  readonly mac: string;
}

export interface GuestOptions {
  readonly name: string;
  readonly image: ImageArtifacts;
  readonly boot: "direct" | "uefi";
  /** Holds the overlay, logs and sockets; created, and removed by cleanup(). */
  readonly workDir: string;
  readonly memMiB?: number;
  /** vCPUs (default 1; under TCG more than 1 uses multi-threaded TCG, one host thread each). */
  readonly smp?: number;
  /** CPU model; default "max" under TCG (Bun's default build needs AVX2; baseline Bun runs on any). */
  readonly cpu?: string;
  readonly nics?: readonly GuestNic[];
  /** Run QEMU inside this network namespace (where its taps live). */
  readonly netns?: string;
  /** A config file handed to the guest via fw_cfg; PID 1 seeds /data with it on first boot. */
  readonly configFile?: string;
  readonly extraCmdline?: string;
  /** Virtual disk size: room after the image for the data partition made on first boot. */
  readonly diskBytes?: number;
  readonly watchdog?: boolean;
  /** Boot the disk left in workDir by an earlier guest (a "reboot" that keeps the data partition). */
  readonly reuseDisk?: boolean;
}

const DEFAULT_DISK_BYTES = 1536 * 1024 * 1024;

/** KVM only where the CPU really offers it (this sandbox's /dev/kvm is PVM and cannot run Debian). */
export function accelerator(): "kvm" | "tcg" {
  if (process.env["FULCRUM_QEMU_ACCEL"] === "tcg") return "tcg";
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8");
    if (/\b(vmx|svm)\b/.test(flags) && existsSync("/dev/kvm")) return "kvm";
  } catch {
    // no /proc/cpuinfo: be safe
  }
  return "tcg";
}

export function macFor(index: number, nic: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, "0");
  return `52:54:00:fa:${h(index & 0xff)}:${h(nic & 0xff)}`;
}

export class Guest {
  readonly serial: SerialLog;
  readonly shell: GuestShell;
  readonly qmpPath: string;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  readonly startedAt: number;

  private constructor(
    readonly options: GuestOptions,
    readonly argv: readonly string[],
  ) {
    this.serial = new SerialLog(join(options.workDir, "serial.log"));
    this.shell = new GuestShell(join(options.workDir, "shell.sock"));
    this.qmpPath = join(options.workDir, "qmp.sock");
    this.startedAt = performance.now();
  }

  get name(): string {
    return this.options.name;
  }

  /** QEMU's pid (from its pidfile: under `ip netns exec` the spawned process may not be QEMU itself). */
  get pid(): number | undefined {
    try {
      return Number(readFileSync(join(this.options.workDir, "qemu.pid"), "utf8").trim());
    } catch {
      return this.proc?.pid;
    }
  }

  get exited(): Promise<number> {
    return this.proc?.exited ?? Promise.resolve(0);
  }

  static buildArgv(o: GuestOptions): string[] {
    const w = o.workDir;
    const accel = accelerator();
    const argv = [
      "qemu-system-x86_64",
      "-name",
      o.name,
      "-accel",
      accel === "tcg" ? "tcg,tb-size=64" : "kvm",
      "-cpu",
      o.cpu ?? (accel === "kvm" ? "host" : "max"),
      "-m",
      String(o.memMiB ?? 512),
      "-smp",
      String(o.smp ?? 1),
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-machine",
      "q35",
      "-pidfile",
      join(w, "qemu.pid"),
      "-chardev",
      `socket,id=ser0,path=${join(w, "serial.sock")},server=on,wait=off,logfile=${join(w, "serial.log")},logappend=on`,
      "-serial",
      "chardev:ser0",
      "-qmp",
      `unix:${join(w, "qmp.sock")},server=on,wait=off`,
      "-device",
      "virtio-serial-pci",
      "-chardev",
      `socket,id=hvc0,path=${join(w, "shell.sock")},server=on,wait=off,logfile=${join(w, "shell.log")}`,
      "-device",
      "virtconsole,chardev=hvc0",
      "-drive",
      `file=${join(w, "disk.qcow2")},format=qcow2,if=virtio`,
    ];
    if (o.watchdog ?? true) argv.push("-device", "i6300esb");
    if (o.boot === "direct") {
      const cmdline = [o.image.manifest.cmdline, o.extraCmdline ?? ""].join(" ").trim();
      argv.push("-kernel", o.image.kernel, "-initrd", o.image.initrd, "-append", cmdline);
    } else {
      argv.push(
        "-drive",
        `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
        "-drive",
        `if=pflash,format=raw,unit=1,file=${join(w, "efivars.fd")}`,
      );
    }
    for (const [i, nic] of (o.nics ?? []).entries()) {
      argv.push("-netdev", `${nic.netdev},id=n${i}`, "-device", `virtio-net-pci,netdev=n${i},mac=${nic.mac}`);
    }
    if (o.configFile !== undefined) argv.push("-fw_cfg", `name=opt/fulcrum/config.toml,file=${o.configFile}`);
    return argv;
  }

  /** Starts QEMU; returns at once (use serial.waitFor to wait for the guest). */
  static async start(o: GuestOptions): Promise<Guest> {
    const disk = join(o.workDir, "disk.qcow2");
    if (o.reuseDisk === true && existsSync(disk)) {
      for (const f of ["serial.log", "shell.log", "serial.sock", "shell.sock", "qmp.sock", "qemu.pid"]) {
        rmSync(join(o.workDir, f), { force: true });
      }
      return Guest.launch(o);
    }
    rmSync(o.workDir, { recursive: true, force: true });
    mkdirSync(o.workDir, { recursive: true });
    const overlay = Bun.spawnSync(
      [
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "raw",
        "-b",
        o.image.disk,
        join(o.workDir, "disk.qcow2"),
        String(o.diskBytes ?? DEFAULT_DISK_BYTES),
      ],
      { stderr: "pipe" },
    );
    if (overlay.exitCode !== 0) throw new Error(`qemu-img create: ${overlay.stderr.toString()}`);
    if (o.boot === "uefi") copyFileSync(OVMF_VARS, join(o.workDir, "efivars.fd"));
    return Guest.launch(o);
  }

  private static launch(o: GuestOptions): Guest {
    const argv = Guest.buildArgv(o);
    const guest = new Guest(o, argv);
    const full = o.netns === undefined ? argv : ["ip", "netns", "exec", o.netns, ...argv];
    guest.proc = Bun.spawn(full, {
      stdin: "ignore",
      stdout: Bun.file(join(o.workDir, "qemu.out")),
      stderr: Bun.file(join(o.workDir, "qemu.err")),
    });
    return guest;
  }

  /** Milliseconds from QEMU start until the console says "fulcrum ready". */
  async waitReady(timeoutMs: number): Promise<number> {
    await this.serial.waitFor(/fulcrum ready/, timeoutMs);
    return performance.now() - this.startedAt;
  }

  qmp(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    return qmp(this.qmpPath, execute, args);
  }

  /** Hard stop: SIGKILL QEMU and wait for it. Idempotent. */
  async kill(): Promise<void> {
    this.shell.close();
    const pid = this.pid;
    if (pid !== undefined && isQemu(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.proc?.kill("SIGKILL");
    await Promise.race([this.exited, Bun.sleep(5_000)]);
    const deadline = performance.now() + 5_000;
    while (pid !== undefined && isQemu(pid) && performance.now() < deadline) await Bun.sleep(50);
  }

  cleanup(): void {
    rmSync(this.options.workDir, { recursive: true, force: true });
  }
}

/** Is `pid` alive and a QEMU process? (Guards against killing a recycled pid.) */
export function isQemu(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith("qemu-system");
  } catch {
    return false;
  }
}

/** Pids of QEMU processes whose -name starts with `prefix` (for leak checks and stale cleanup). */
export function qemuPidsNamed(prefix: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSafe("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, "latin1").split("\0");
      if (!(args[0] ?? "").startsWith("qemu-system")) continue;
      const i = args.indexOf("-name");
      if (i >= 0 && (args[i + 1] ?? "").startsWith(prefix)) pids.push(Number(e));
    } catch {
      // exited
    }
  }
  return pids;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// fulcrum as PID 1: everything an init does on this box, in order, before the daemon reads its config.
//   mounts -> (daemon process starts loading) -> (modules || data partition) -> config provisioning
//   -> watchdog, reaper, debug shell
// and, at the end of the box's life, an orderly power-off or reboot (PID 1 must never just exit:
// the kernel panics when init dies).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { reboot } from "../../ffi/system.ts";
import type { BoxEvent } from "../log/events.ts";
import { type BootInfo, readBootInfo } from "./boot.ts";
import { type DataReport, ensureDataPartition } from "./datapart.ts";
import { type DebugShell, startDebugShell } from "./debug-shell.ts";
import { type ImageInfo, readImageInfo } from "./image-info.ts";
import { loadDeferredModules, loadModules, type ModuleReport } from "./modules.ts";
import { EARLY_MOUNTS, EFIVARFS_MOUNT, mountAll } from "./mounts.ts";
import {
  kernelPowerAction,
  type PowerAction,
  releaseData,
  SIGNAL_ACTIONS,
  stopAllProcesses,
} from "./power.ts";
import { watchPowerButton } from "./power-button.ts";
import { type ProvisionResult, provisionConfig } from "./provision.ts";
import { Reaper } from "./reaper.ts";
import { Watchdog } from "./watchdog.ts";

export interface EventSink {
  emit(e: BoxEvent): void;
}

export interface Pid1 {
  readonly image: ImageInfo;
  readonly boot: BootInfo;
  readonly modules: ModuleReport;
  readonly data: DataReport;
  readonly config: ProvisionResult;
  /** Resolves with what was asked for: a signal to PID 1, the power button, or requestPower(). */
  readonly powerRequested: Promise<PowerAction>;
  requestPower(action: PowerAction, reason: string): void;
  /** Loads the modules nothing waits for (see DEFERRED_MODULES) and reports them; never throws. */
  loadDeferredModules(): Promise<void>;
  /** Stops everything, releases the data partition and powers off or reboots. Never returns. */
  shutdown(action: PowerAction, reason: string): Promise<never>;
}

export function isPid1(): boolean {
  return process.pid === 1;
}

export interface Pid1Hooks {
  /** /proc, /sys, /dev, /run and /tmp are mounted: processes can be started from here on. */
  readonly apiFilesystemsReady?: () => void;
}

/** Runs the init duties. Only a failure to mount /proc, /sys or /dev throws (nothing works without them). */
export async function startPid1(events: EventSink, hooks: Pid1Hooks = {}): Promise<Pid1> {
  const started = performance.now();
  const mounts = mountAll(EARLY_MOUNTS);
  // efivarfs only exists on UEFI boots; its absence on a direct kernel boot is not a failure.
  if (existsSync("/sys/firmware/efi")) mounts.push(...mountAll([EFIVARFS_MOUNT]));
  const failed = mounts.filter((m) => m.result === "failed");
  events.emit({
    event: "system.mounts",
    reason: `API filesystems ready (${mounts.filter((m) => m.result === "mounted").length} mounted${failed.length > 0 ? `; optional ones failed: ${failed.map((m) => m.target).join(", ")}` : ""})`,
    failed,
  });
  setHostname("fulcrum");
  hooks.apiFilesystemsReady?.();
  try {
    reboot("cadOff"); // Ctrl-Alt-Del becomes SIGINT to us instead of an instant reboot
  } catch {
    // not fatal: only changes how Ctrl-Alt-Del is delivered
  }

  const image = readImageInfo();
  const boot = readBootInfo();
  events.emit({
    event: "system.boot",
    reason: `booted ${image.profile} image ${boot.version ?? image.version} from slot ${boot.slot ?? "?"} (${boot.rootDevice ?? "?"}, ${boot.rootReadOnly ? "read-only" : "READ-WRITE"})${boot.uefi ? `, UEFI entry ${boot.loaderEntry ?? "?"}` : ", direct kernel boot"}`,
    image,
    boot,
  });

  const [modules, data] = await Promise.all([loadModules(), ensureDataPartition()]);
  events.emit(modulesEvent("system.modules", "kernel modules", modules));
  events.emit({
    event: "system.data",
    reason:
      data.mode === "rw"
        ? `data partition ${data.device} mounted read-write on /data${data.created ? " (created on this first boot)" : ""}`
        : `NO persistent data partition: /data is in RAM and nothing will survive a reboot (${data.problems.join("; ")})`,
    device: data.device,
    created: data.created,
    mode: data.mode,
    ms: Math.round(data.ms),
    problems: data.problems,
  });

  const config = provisionConfig();
  if (config.source !== "data") {
    events.emit({
      event: "config.seeded",
      reason:
        config.source === "default"
          ? `no config on the data partition: starting with the SAFE DEFAULT (console up, no VIPs), written to ${config.path}`
          : `config seeded from QEMU fw_cfg into ${config.path}`,
      path: config.path,
      source: config.source,
    });
  }

  let watchdog: Watchdog | undefined;
  try {
    watchdog = Watchdog.start();
    if (watchdog !== undefined) {
      events.emit({
        event: "system.watchdog",
        reason: `watchdog ${watchdog.status.device} (${watchdog.status.identity}) armed: timeout ${watchdog.status.timeoutS}s, fed every ${watchdog.status.feedEveryMs} ms`,
        ...watchdog.status,
      });
    }
  } catch (err) {
    events.emit({ event: "system.watchdog_failed", reason: `cannot use the watchdog: ${String(err)}` });
  }

  const reaper = new Reaper();
  reaper.start();

  let resolvePower: (a: PowerAction) => void = () => {};
  const powerRequested = new Promise<PowerAction>((resolve) => {
    resolvePower = resolve;
  });
  const requestPower = (action: PowerAction, reason: string): void => {
    events.emit({ event: "system.power_requested", reason: `${action} requested: ${reason}`, action });
    resolvePower(action);
  };
  for (const [signal, action] of Object.entries(SIGNAL_ACTIONS)) {
    process.on(signal, () => requestPower(action, signal));
  }
  const button = watchPowerButton(() => requestPower("poweroff", "power button"));

  let shell: DebugShell | undefined;
  if (image.debugShell !== null) {
    shell = startDebugShell(image.debugShell, (what) =>
      events.emit({ event: "system.debug_shell", reason: `lab image: ${what}` }),
    );
  }

  let shuttingDown = false;
  const shutdown = async (action: PowerAction, reason: string): Promise<never> => {
    if (!shuttingDown) {
      shuttingDown = true;
      events.emit({ event: "system.shutdown", reason: `${action}: ${reason}`, action });
      shell?.stop();
      button?.stop();
      reaper.stop();
      const stopped = await stopAllProcesses();
      const released = releaseData();
      events.emit({
        event: "system.shutdown_ready",
        reason: `processes stopped (${stopped.terminated} exited, ${stopped.killed} killed), data ${released}`,
      });
    }
    // The watchdog stays armed: if the kernel call below hangs, the hardware resets the box.
    return kernelPowerAction(action);
  };

  process.on("uncaughtException", (err) => {
    events.emit({ event: "system.crash", reason: `uncaught exception in PID 1, rebooting: ${String(err)}` });
    void shutdown("reboot", "uncaught exception");
  });

  const uptimeS = kernelUptimeS();
  events.emit({
    event: "system.init_done",
    reason: `PID 1 duties done in ${Math.round(performance.now() - started)} ms (kernel uptime ${uptimeS} s)`,
    ms: Math.round(performance.now() - started),
    uptimeS,
  });
  const loadDeferred = async (): Promise<void> => {
    const deferred = await loadDeferredModules().catch((err: unknown) => ({
      loaded: [],
      builtin: [],
      failed: [],
      coldplugAliases: 0,
      ms: 0,
      errors: [String(err)],
    }));
    events.emit(
      modulesEvent("system.modules_deferred", "kernel modules loaded after the daemon's start", deferred),
    );
  };
  return {
    image,
    boot,
    modules,
    data,
    config,
    powerRequested,
    requestPower,
    loadDeferredModules: loadDeferred,
    shutdown,
  };
}

function modulesEvent(event: string, what: string, m: ModuleReport): BoxEvent {
  return {
    event,
    reason: `${what}: ${m.loaded.length} loaded, ${m.builtin.length} built in, ${m.failed.length} failed${m.failed.length > 0 ? ` (${m.failed.join(", ")})` : ""}`,
    failed: m.failed,
    ms: Math.round(m.ms),
    coldplugAliases: m.coldplugAliases,
    errors: m.errors,
  };
}

function setHostname(name: string): void {
  try {
    writeFileSync("/proc/sys/kernel/hostname", name);
  } catch {
    // cosmetic; the config's [system] hostname is applied later by the system reconciler
  }
}

function kernelUptimeS(): number {
  try {
    return Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  } catch {
    return Number.NaN;
  }
}

// PID 1's main loop: the init duties (pid1.ts), then the daemon as a supervised child process until a
// power-off or reboot. On the box this runs from its own small bundle (src/init-main.ts), so that PID 1,
// which starts before anything else, does not load the daemon's code as well.
import { type BootInfo, bootStillCounted } from "./boot.ts";
import { DaemonProcess } from "./daemon-process.ts";
import { type EventSink, type Pid1, startPid1 } from "./pid1.ts";

/** The latest the deferred kernel modules are loaded after PID 1 starts, whether the daemon is ready or not. */
const DEFERRED_MODULES_LATEST_MS = 30_000;

/**
 * PID 1: init duties, then keep the daemon (`daemonEntry run path`, the app bundle) running until a
 * power-off or reboot is asked for.
 */
export async function runInit(path: string, events: EventSink, daemonEntry: string): Promise<never> {
  let boot: BootInfo | undefined;
  let pid1: Pid1 | undefined;
  // The modules nothing waits for are loaded once the daemon is ready, not while it starts: on a slow CPU
  // they would compete with it for the boot's critical path. A daemon that never says so gets them later.
  let daemonReady = (): void => {};
  const deferredModulesDue = new Promise<void>((resolve) => {
    daemonReady = resolve;
    setTimeout(resolve, DEFERRED_MODULES_LATEST_MS);
  });
  const daemon = new DaemonProcess({
    cmd: [process.execPath, daemonEntry, "run", path],
    events,
    bootCounted: () => boot !== undefined && bootStillCounted(boot),
    reboot: (reason) => pid1?.requestPower("reboot", reason),
    onReady: () => daemonReady(),
  });
  // Started as soon as /proc, /sys and /dev exist: it loads its code while we load modules and mount /data.
  pid1 = await startPid1(events, { apiFilesystemsReady: () => daemon.start() });
  boot = pid1.boot;
  daemon.release();
  void deferredModulesDue.then(() => pid1?.loadDeferredModules());
  // keepalived's reload signal works on the box's PID 1 too (`kill -HUP 1`): it is the daemon's to handle.
  process.on("SIGHUP", () => daemon.signal("SIGHUP"));
  const action = await pid1.powerRequested;
  // PID 1 must reach the power-off/reboot call whatever happens while stopping (init may not exit).
  await daemon
    .stop()
    .catch((err: unknown) =>
      events.emit({ event: "fulcrum.stop_failed", reason: `daemon stop failed: ${String(err)}` }),
    );
  return pid1.shutdown(action, "daemon stopped");
}

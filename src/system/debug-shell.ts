// Lab images only: a root shell on the virtio console (/dev/hvc0) so tests and people can look
// inside a guest. Production images have no debugShell in image.json and never start one.
import { closeSync, existsSync, openSync } from "node:fs";

const RESPAWN_MIN_MS = 1_000;

export interface DebugShell {
  stop(): void;
}

export function startDebugShell(device: string, onEvent: (what: string) => void): DebugShell | undefined {
  if (!existsSync(device)) return undefined;
  const shell = existsSync("/usr/bin/bash") ? "/usr/bin/bash" : "/bin/sh";
  let stopped = false;
  let current: ReturnType<typeof Bun.spawn> | undefined;
  const spawnOnce = (): void => {
    if (stopped) return;
    const fd = openSync(device, "r+");
    const started = Date.now();
    current = Bun.spawn(["/usr/bin/setsid", "--ctty", shell, "-i"], {
      stdin: fd,
      stdout: fd,
      stderr: fd,
      env: {
        PATH: "/usr/sbin:/usr/bin",
        HOME: "/root",
        TERM: "vt100",
        PS1: "fulcrum-debug# ",
        LANG: "C.UTF-8",
      },
      onExit: () => {
        closeSync(fd);
        if (stopped) return;
        // Bounded respawn rate: a shell that dies at once does not spin PID 1.
        const wait = Math.max(0, RESPAWN_MIN_MS - (Date.now() - started));
        setTimeout(spawnOnce, wait);
      },
    });
  };
  spawnOnce();
  onEvent(`debug shell on ${device}`);
  return {
    stop() {
      stopped = true;
      current?.kill("SIGKILL");
    },
  };
}

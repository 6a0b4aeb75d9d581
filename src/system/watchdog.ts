// Hardware watchdog: when /dev/watchdog exists (after coldplug loaded its driver), PID 1 opens it and
// writes to it on a timer. If the event loop stalls longer than the watchdog's timeout, or PID 1
// dies, the hardware resets the box. It is never disarmed: a shutdown that hangs is reset too.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";

export const WATCHDOG_DEVICE = "/dev/watchdog0";
const LEGACY_DEVICE = "/dev/watchdog";
const SYSFS = "/sys/class/watchdog/watchdog0";
const FALLBACK_TIMEOUT_S = 30;

export interface WatchdogStatus {
  readonly device: string;
  readonly identity: string;
  readonly timeoutS: number;
  readonly feedEveryMs: number;
}

/** Feed at a third of the timeout, at least once a second and at most every 10 s. Pure. */
export function feedIntervalMs(timeoutS: number): number {
  const safe = Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : FALLBACK_TIMEOUT_S;
  return Math.min(10_000, Math.max(1_000, Math.floor((safe * 1000) / 3)));
}

function readSys(name: string): string | undefined {
  try {
    return readFileSync(`${SYSFS}/${name}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

export class Watchdog {
  private timer: ReturnType<typeof setInterval> | undefined;
  private feeds = 0;

  private constructor(
    private readonly fd: number,
    readonly status: WatchdogStatus,
  ) {}

  /** Opens and starts feeding the watchdog; undefined when the box has none. Throws on open errors. */
  static start(): Watchdog | undefined {
    const device = existsSync(WATCHDOG_DEVICE)
      ? WATCHDOG_DEVICE
      : existsSync(LEGACY_DEVICE)
        ? LEGACY_DEVICE
        : undefined;
    if (device === undefined) return undefined;
    const fd = openSync(device, "w");
    const timeoutS = Number(readSys("timeout") ?? FALLBACK_TIMEOUT_S);
    const status: WatchdogStatus = {
      device,
      identity: readSys("identity") ?? "unknown",
      timeoutS,
      feedEveryMs: feedIntervalMs(timeoutS),
    };
    const dog = new Watchdog(fd, status);
    dog.feed();
    dog.timer = setInterval(() => dog.feed(), status.feedEveryMs);
    return dog;
  }

  get feedCount(): number {
    return this.feeds;
  }

  feed(): void {
    writeSync(this.fd, "\0");
    this.feeds++;
  }

  /** Stops feeding and disarms (magic close). Only for a process that leaves PID 1's role, never on reboot. */
  disarm(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    writeSync(this.fd, "V");
    closeSync(this.fd);
  }
}

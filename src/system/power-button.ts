// The ACPI power button (a real box's button, QEMU's `system_powerdown`) arrives as an input event.
// With no acpid or logind on the box, PID 1 reads it: the device is opened non-blocking and polled
// twice a second, so no thread ever blocks on it.
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";

const EV_KEY = 1;
const KEY_POWER = 116;
/** struct input_event on 64-bit: timeval (16) + type (2) + code (2) + value (4). */
export const INPUT_EVENT_BYTES = 24;
const POLL_MS = 500;

/** True when the buffer holds a KEY_POWER press. Pure. */
export function hasPowerPress(buf: Uint8Array, length: number): boolean {
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  for (let off = 0; off + INPUT_EVENT_BYTES <= length; off += INPUT_EVENT_BYTES) {
    const type = view.getUint16(off + 16, true);
    const code = view.getUint16(off + 18, true);
    const value = view.getInt32(off + 20, true);
    if (type === EV_KEY && code === KEY_POWER && value === 1) return true;
  }
  return false;
}

function powerButtonDevices(): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/sys/class/input");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.startsWith("event")) continue;
    try {
      const name = readFileSync(`/sys/class/input/${e}/device/name`, "utf8").trim();
      if (name === "Power Button" && existsSync(`/dev/input/${e}`)) out.push(`/dev/input/${e}`);
    } catch {
      // not an input device with a name
    }
  }
  return out;
}

export function watchPowerButton(onPress: () => void): { stop(): void } | undefined {
  const fds = powerButtonDevices().map((d) => openSync(d, constants.O_RDONLY | constants.O_NONBLOCK));
  if (fds.length === 0) return undefined;
  const buf = new Uint8Array(INPUT_EVENT_BYTES * 16);
  const timer = setInterval(() => {
    for (const fd of fds) {
      try {
        const n = readSync(fd, buf, 0, buf.byteLength, null);
        if (n > 0 && hasPowerPress(buf, n)) onPress();
      } catch {
        // EAGAIN: nothing pressed
      }
    }
  }, POLL_MS);
  return {
    stop() {
      clearInterval(timer);
      for (const fd of fds) closeSync(fd);
    },
  };
}

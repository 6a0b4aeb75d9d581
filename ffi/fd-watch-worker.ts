// Worker side of FdWatcher: blocks in poll() on one fd (plus an eventfd for shutdown) so the main
// thread never does. It reports readiness once per arming and then waits to be armed again, which
// leaves all reading to the fd's owner on the main thread.
import { POLL } from "./constants.ts";
import { CTRL_ARM, CTRL_STOP, type WatchInit, type WatchReport } from "./fd-watch-protocol.ts";
import { eventfdDrain, poll } from "./libc.ts";

declare const self: Worker;

function run(init: WatchInit): void {
  const ctrl = new Int32Array(init.control);
  const wanted = [
    { fd: init.fd, events: POLL.IN },
    { fd: init.wakeFd, events: POLL.IN },
  ];
  for (;;) {
    while (Atomics.load(ctrl, CTRL_STOP) === 0 && Atomics.load(ctrl, CTRL_ARM) === 0) {
      Atomics.wait(ctrl, CTRL_ARM, 0);
    }
    if (Atomics.load(ctrl, CTRL_STOP) !== 0) break;
    const [fdEvents = 0, wakeEvents = 0] = poll(wanted, -1);
    if (wakeEvents !== 0) eventfdDrain(init.wakeFd);
    if (Atomics.load(ctrl, CTRL_STOP) !== 0) break;
    if (fdEvents !== 0) {
      Atomics.store(ctrl, CTRL_ARM, 0);
      self.postMessage({ kind: "ready", revents: fdEvents } satisfies WatchReport);
    }
  }
  self.postMessage({ kind: "stopped" } satisfies WatchReport);
}

self.onmessage = (e: MessageEvent<WatchInit>) => {
  try {
    run(e.data);
  } catch (err) {
    self.postMessage({ kind: "failed", message: String(err) } satisfies WatchReport);
  }
};

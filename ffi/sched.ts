// Thread scheduling: lets a timing-critical Worker (VRRP) run under SCHED_RR so CPU contention from the
// rest of the box cannot delay it by tens of milliseconds. Applies to the calling OS thread only.
import { dlopen, ptr, FFIType as T } from "bun:ffi";
import { errno } from "./libc.ts";
import { SysError } from "./sys-error.ts";

const lib = dlopen("libc.so.6", {
  gettid: { args: [], returns: T.i32 },
  sched_setscheduler: { args: [T.i32, T.i32, T.ptr], returns: T.i32 },
  sched_getscheduler: { args: [T.i32], returns: T.i32 },
});

export const SCHED = { OTHER: 0, FIFO: 1, RR: 2 } as const;

/** The kernel id of the calling thread (a Worker's own thread when called from inside it). */
export function currentThreadId(): number {
  return lib.symbols.gettid();
}

/** Puts the calling thread under SCHED_RR with this priority (1..99); throws SysError (e.g. EPERM). */
export function setCurrentThreadRealtime(priority: number): void {
  if (!Number.isInteger(priority) || priority < 1 || priority > 99) {
    throw new SysError("sched_setscheduler", 22, `priority ${priority} not in 1..99`);
  }
  const param = new Int32Array([priority]);
  if (lib.symbols.sched_setscheduler(currentThreadId(), SCHED.RR, ptr(param)) < 0) {
    throw new SysError("sched_setscheduler", errno(), `SCHED_RR ${priority}`);
  }
}

export function currentThreadPolicy(): number {
  const p = lib.symbols.sched_getscheduler(currentThreadId());
  if (p < 0) throw new SysError("sched_getscheduler", errno());
  return p;
}

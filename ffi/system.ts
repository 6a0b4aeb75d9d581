// libc calls that PID 1 needs and nothing else does: mount, umount, sync, reboot and reaping children.
// Callers pass strings and numbers; pointers stay in this file. Failures throw SysError with the errno.
import { dlopen, ptr, read, FFIType as T } from "bun:ffi";
import { Errno } from "./errno.ts";
import { SysError } from "./sys-error.ts";

const lib = dlopen("libc.so.6", {
  mount: { args: [T.ptr, T.ptr, T.ptr, T.u64, T.ptr], returns: T.i32 },
  umount2: { args: [T.ptr, T.i32], returns: T.i32 },
  sync: { args: [], returns: T.void },
  reboot: { args: [T.i32], returns: T.i32 },
  waitpid: { args: [T.i32, T.ptr, T.i32], returns: T.i32 },
  __errno_location: { args: [], returns: T.ptr },
});
const sym = lib.symbols;

function errno(): number {
  const loc = sym.__errno_location();
  return loc === null ? 0 : read.i32(loc, 0);
}

const MAX_MOUNT_ARG_BYTES = 4096;

function cString(what: string, s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  if (bytes.includes(0)) throw new SysError(what, Errno.EINVAL, "string contains NUL");
  if (bytes.length >= MAX_MOUNT_ARG_BYTES) throw new SysError(what, Errno.EINVAL, "string too long");
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** mount(2) flags used by PID 1 (linux/mount.h). */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  NOATIME: 1024,
  MOVE: 8192,
  RELATIME: 1 << 21,
} as const;

export interface MountRequest {
  readonly source: string;
  readonly target: string;
  readonly fstype: string;
  readonly flags: number;
  /** Filesystem options, e.g. "mode=0755,size=64m"; empty for none. */
  readonly data: string;
}

export function mount(req: MountRequest): void {
  const source = cString("mount", req.source);
  const target = cString("mount", req.target);
  const fstype = cString("mount", req.fstype);
  const data = req.data === "" ? null : cString("mount", req.data);
  const rc = sym.mount(ptr(source), ptr(target), ptr(fstype), req.flags, data === null ? null : ptr(data));
  if (rc !== 0) throw new SysError("mount", errno(), `${req.fstype} ${req.source} on ${req.target}`);
}

export const MNT_DETACH = 2;

export function umount(target: string, flags = 0): void {
  const path = cString("umount2", target);
  if (sym.umount2(ptr(path), flags) !== 0) throw new SysError("umount2", errno(), target);
}

export function sync(): void {
  sym.sync();
}

/** reboot(2) commands (linux/reboot.h). */
export const RebootCommand = {
  restart: 0x01234567,
  halt: 0xcdef0123,
  powerOff: 0x4321fedc,
  /** Ctrl-Alt-Del sends SIGINT to PID 1 instead of rebooting at once. */
  cadOff: 0,
} as const;
export type RebootCommandName = keyof typeof RebootCommand;

/** Only returns for cadOff or on failure (then it throws). */
export function reboot(command: RebootCommandName): void {
  const rc = sym.reboot(RebootCommand[command] | 0);
  if (rc !== 0) throw new SysError("reboot", errno(), command);
}

const WNOHANG = 1;

/**
 * Reaps one exited child `pid` without blocking. Returns true when it was reaped, false when it
 * is still running or is not our child (ECHILD): both mean there is nothing to do.
 */
export function reapChild(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) throw new SysError("waitpid", Errno.EINVAL, `bad pid ${pid}`);
  const rc = sym.waitpid(pid, null, WNOHANG);
  if (rc > 0) return true;
  if (rc === 0) return false;
  const e = errno();
  if (e === 10 /* ECHILD */) return false;
  throw new SysError("waitpid", e, `pid ${pid}`);
}

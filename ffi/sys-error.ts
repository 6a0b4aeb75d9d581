// Typed failure of a system call: the errno number, its name and which call failed.
import { errnoName } from "./errno.ts";

export class SysError extends Error {
  override readonly name = "SysError";
  /** Symbolic errno name, e.g. "EAGAIN"; "E<n>" for values the table does not know. */
  readonly code: string;

  constructor(
    readonly syscall: string,
    readonly errno: number,
    detail?: string,
  ) {
    const code = errnoName(errno);
    super(`${syscall}: ${code} (errno ${errno})${detail ? `: ${detail}` : ""}`);
    this.code = code;
  }
}

export function isSysError(err: unknown, code?: string): err is SysError {
  return err instanceof SysError && (code === undefined || err.code === code);
}

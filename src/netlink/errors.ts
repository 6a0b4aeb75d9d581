// Typed errors of the netlink layer. Decoding never throws anything else on bad input.
import { errnoName } from "../../ffi/errno.ts";

/** Input bytes are truncated, inconsistent or exceed a bound. offset is where decoding stopped. */
export class NetlinkDecodeError extends Error {
  override readonly name = "NetlinkDecodeError";
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`netlink decode error at offset ${offset}: ${reason}`);
  }
}

/** A value cannot be encoded (out of range, too long, wrong type). */
export class NetlinkEncodeError extends Error {
  override readonly name = "NetlinkEncodeError";
}

/** The kernel refused a request: errno name plus the extended-ack message when it sent one. */
export class KernelError extends Error {
  override readonly name = "KernelError";
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly request: string,
    readonly extack?: string,
    readonly extackOffset?: number,
  ) {
    const code = errnoName(errno);
    super(`${request}: ${code}${extack ? `: ${extack}` : ""}`);
    this.code = code;
  }
}

/** No answer for a request within its deadline. */
export class NetlinkTimeoutError extends Error {
  override readonly name = "NetlinkTimeoutError";
}

/** The client is closed or was closed while a request was pending. */
export class NetlinkClosedError extends Error {
  override readonly name = "NetlinkClosedError";
}

/** The kernel dropped messages for us (receive buffer overflow): state must be re-read. */
export class NetlinkOverrunError extends Error {
  override readonly name = "NetlinkOverrunError";
}

/** A dump changed while the kernel was producing it (NLM_F_DUMP_INTR); retry it. */
export class DumpInterruptedError extends Error {
  override readonly name = "DumpInterruptedError";
}

// The seam between the netlink client (pure TypeScript) and the socket (ffi/). Tests can supply a fake.
import { FdWatcher } from "../../ffi/fd-watcher.ts";
import { NlError, NlSocket, type NlSocketOptions } from "../../ffi/libnl.ts";
import { NetlinkClosedError, NetlinkOverrunError } from "./errors.ts";

export interface Datagram {
  readonly data: Uint8Array;
  /** True when the kernel sent it (port id 0); anything else is ignored by the client. */
  readonly fromKernel: boolean;
  readonly groups: number;
}

export interface NetlinkTransport {
  readonly localPort: number;
  nextSeq(): number;
  /** Sends complete, encoded messages; throws on failure. */
  send(bytes: Uint8Array): void;
  /** One datagram, or null when none is queued. Never blocks. Throws NetlinkOverrunError on ENOBUFS. */
  receive(): Datagram | null;
  /** Resolves when receive() may return data, or "timeout". Never blocks the event loop. */
  waitReadable(timeoutMs: number): Promise<"readable" | "timeout">;
  addMembership(group: number): void;
  close(): Promise<void>;
}

/** NetlinkTransport over a libnl socket, with a readiness Worker created on first need. */
export class LibnlTransport implements NetlinkTransport {
  private watcher: FdWatcher | null = null;
  private closed = false;

  private constructor(private readonly sock: NlSocket) {}

  static open(protocol: number, options: NlSocketOptions = {}): LibnlTransport {
    return new LibnlTransport(NlSocket.open(protocol, options));
  }

  get localPort(): number {
    return this.sock.localPort;
  }

  nextSeq(): number {
    this.check();
    return this.sock.nextSeq();
  }

  send(bytes: Uint8Array): void {
    this.check();
    this.sock.sendRaw(bytes);
  }

  receive(): Datagram | null {
    this.check();
    try {
      const d = this.sock.recvRaw();
      return d && { data: d.data, fromKernel: d.senderPort === 0, groups: d.groups };
    } catch (err) {
      if (err instanceof NlError && err.errnoCode === "ENOBUFS") {
        throw new NetlinkOverrunError("netlink receive buffer overflowed: messages were lost");
      }
      throw err;
    }
  }

  waitReadable(timeoutMs: number): Promise<"readable" | "timeout"> {
    this.check();
    this.watcher ??= new FdWatcher(this.sock.fd);
    return this.watcher.waitReadable(timeoutMs);
  }

  addMembership(group: number): void {
    this.check();
    this.sock.addMembership(group);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The worker must stop polling before the fd number can be reused.
    if (this.watcher) await this.watcher.close();
    this.sock.close();
  }

  private check(): void {
    if (this.closed) throw new NetlinkClosedError("netlink transport is closed");
  }
}

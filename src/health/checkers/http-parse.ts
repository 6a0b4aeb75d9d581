// An incremental parser for one HTTP/1.x response, sans-I/O: feed it bytes and EOF, read status and body.
// Bounded: the head and the body have size limits, and anything beyond them is a clear error.

export interface HttpResponseLimits {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpResponseLimits = { maxHeadBytes: 16 * 1024, maxBodyBytes: 1024 * 1024 };

type Phase =
  | "head"
  | "body-length"
  | "body-eof"
  | "chunk-size"
  | "chunk-data"
  | "chunk-crlf"
  | "trailers"
  | "done";

export class HttpResponseParser {
  status: number | null = null;
  /** lower-cased header names; repeated headers joined with ", " */
  readonly headers = new Map<string, string>();
  error: string | null = null;
  private phase: Phase = "head";
  private buf: Buffer = Buffer.alloc(0);
  private readonly bodyParts: Buffer[] = [];
  private bodyBytes = 0;
  private remaining = 0;

  constructor(
    /** false: stop after the head (the body is not needed, so it is not read) */
    private readonly needBody: boolean,
    private readonly limits: HttpResponseLimits = DEFAULT_HTTP_LIMITS,
  ) {}

  /** True when the response is complete (or failed): the caller can close the connection. */
  get done(): boolean {
    return this.phase === "done" || this.error !== null;
  }

  body(): Buffer {
    return Buffer.concat(this.bodyParts, this.bodyBytes);
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    this.run();
  }

  /** The peer closed the connection. */
  end(): void {
    if (this.done) return;
    if (this.phase === "body-eof") {
      this.phase = "done";
      return;
    }
    this.fail(this.status === null ? "connection closed before a response" : "connection closed mid-body");
  }

  private fail(reason: string): void {
    this.error = reason;
  }

  private run(): void {
    for (;;) {
      if (this.done) return;
      switch (this.phase) {
        case "head": {
          const end = this.buf.indexOf("\r\n\r\n");
          if (end < 0) {
            if (this.buf.length > this.limits.maxHeadBytes) this.fail("response head too large");
            return;
          }
          if (end > this.limits.maxHeadBytes) {
            this.fail("response head too large");
            return;
          }
          const head = this.buf.subarray(0, end).toString("latin1");
          this.buf = this.buf.subarray(end + 4);
          if (!this.parseHead(head)) return;
          continue;
        }
        case "body-length": {
          const take = Math.min(this.remaining, this.buf.length);
          if (take > 0) {
            this.addBody(this.buf.subarray(0, take));
            this.buf = this.buf.subarray(take);
            this.remaining -= take;
          }
          if (this.remaining === 0) this.phase = "done";
          return;
        }
        case "body-eof":
          if (this.buf.length > 0) {
            this.addBody(this.buf);
            this.buf = Buffer.alloc(0);
          }
          return;
        case "chunk-size": {
          const eol = this.buf.indexOf("\r\n");
          if (eol < 0) {
            if (this.buf.length > 1024) this.fail("bad chunk size line");
            return;
          }
          const line = this.buf.subarray(0, eol).toString("latin1");
          this.buf = this.buf.subarray(eol + 2);
          const hex = line.split(";")[0]!.trim();
          if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) {
            this.fail(`bad chunk size '${line.slice(0, 20)}'`);
            return;
          }
          this.remaining = Number.parseInt(hex, 16);
          this.phase = this.remaining === 0 ? "trailers" : "chunk-data";
          continue;
        }
        case "chunk-data": {
          const take = Math.min(this.remaining, this.buf.length);
          if (take === 0) return;
          this.addBody(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          this.remaining -= take;
          if (this.remaining === 0) this.phase = "chunk-crlf";
          continue;
        }
        case "chunk-crlf":
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) {
            this.fail("chunk not followed by CRLF");
            return;
          }
          this.buf = this.buf.subarray(2);
          this.phase = "chunk-size";
          continue;
        case "trailers": {
          // Trailers end with an empty line; the common case is no trailers at all.
          if (this.buf.length >= 2 && this.buf[0] === 0x0d && this.buf[1] === 0x0a) {
            this.phase = "done";
            return;
          }
          const end = this.buf.indexOf("\r\n\r\n");
          if (end < 0) {
            if (this.buf.length > this.limits.maxHeadBytes) this.fail("trailers too large");
            return;
          }
          this.phase = "done";
          return;
        }
        case "done":
          return;
      }
    }
  }

  private parseHead(head: string): boolean {
    const lines = head.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (m === null) {
      this.fail(`not an HTTP response: '${(lines[0] ?? "").slice(0, 40)}'`);
      return false;
    }
    const status = Number(m[1]);
    if (status >= 100 && status < 200) return true; // interim response: the real one follows
    this.status = status;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = this.headers.get(name);
      this.headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    if (!this.needBody || status === 204 || status === 304) {
      this.phase = "done";
      return false;
    }
    const te = this.headers.get("transfer-encoding")?.toLowerCase();
    const cl = this.headers.get("content-length");
    if (te?.includes("chunked")) {
      this.phase = "chunk-size";
    } else if (cl !== undefined) {
      if (!/^\d{1,12}$/.test(cl)) {
        this.fail(`bad Content-Length '${cl.slice(0, 20)}'`);
        return false;
      }
      this.remaining = Number(cl);
      if (this.remaining > this.limits.maxBodyBytes) {
        this.fail(`body of ${this.remaining} bytes is over the ${this.limits.maxBodyBytes} byte limit`);
        return false;
      }
      this.phase = this.remaining === 0 ? "done" : "body-length";
    } else {
      this.phase = "body-eof";
    }
    return true;
  }

  private addBody(part: Buffer): void {
    if (this.bodyBytes + part.length > this.limits.maxBodyBytes) {
      this.fail(`body over the ${this.limits.maxBodyBytes} byte limit`);
      return;
    }
    this.bodyParts.push(Buffer.from(part));
    this.bodyBytes += part.length;
  }
}

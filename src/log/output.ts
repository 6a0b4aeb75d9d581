// Where formatted log lines go: stderr (the box's console) by default, written synchronously so the last
// lines before a crash are not lost. The serial console takes them over while it holds the port
// (redirect), so that it can queue them without blocking and hold them back while its TUI is on screen.
import { writeSync } from "node:fs";

export interface LineSink {
  write(text: string): void;
}

export class LogOutput implements LineSink {
  private target: LineSink | null = null;

  constructor(private readonly fd = 2) {}

  write(text: string): void {
    if (this.target !== null) {
      this.target.write(text);
      return;
    }
    try {
      writeSync(this.fd, text);
    } catch {
      // stderr gone or full (EAGAIN): a log line is not worth stopping for
    }
  }

  /** Sends lines to `sink` from now on; null gives them back to the fd. */
  redirect(sink: LineSink | null): void {
    this.target = sink;
  }
}

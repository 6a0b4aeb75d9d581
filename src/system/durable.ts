// Files on the data partition must survive a power cut whole: written to a temporary name, flushed to
// the disk, renamed over the target, and the directory flushed so the rename itself is on the disk. A
// crash leaves either the old file or the new one, never an empty or half-written one (which is what a
// plain write leaves on ext4 when the box loses power within its commit interval).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export function writeFileDurably(path: string, data: string | Uint8Array, mode = 0o640): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, "w", mode);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temporary, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

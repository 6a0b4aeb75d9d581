// A fixed-size ring of the last results of one real server's check, for the console.
import type { HistoryEntry } from "./types.ts";

export class HistoryRing {
  private readonly entries: (HistoryEntry | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 10_000) {
      throw new RangeError(`HistoryRing: capacity ${capacity} outside 1..10000`);
    }
    this.entries = new Array(capacity);
  }

  push(entry: HistoryEntry): void {
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Oldest first. */
  toArray(): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const e = this.entries[(start + i) % this.capacity];
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  last(): HistoryEntry | undefined {
    if (this.count === 0) return undefined;
    return this.entries[(this.next - 1 + this.capacity) % this.capacity];
  }
}

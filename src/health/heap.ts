// A binary min-heap of (dueMs, id, generation): the scheduler's queue of next check times.
// Entries are never removed from the middle; the scheduler bumps a check's generation instead and skips
// stale entries when they surface (lazy deletion), so every operation is O(log n).

export interface DueEntry {
  readonly dueMs: number;
  readonly id: number;
  readonly generation: number;
}

export class DueHeap {
  private readonly items: DueEntry[] = [];

  constructor(private readonly maxSize: number) {}

  get size(): number {
    return this.items.length;
  }

  push(entry: DueEntry): void {
    if (this.items.length >= this.maxSize) throw new RangeError(`DueHeap: more than ${this.maxSize} entries`);
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(entry, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = entry;
  }

  peek(): DueEntry | undefined {
    return this.items[0];
  }

  pop(): DueEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(items[r]!, items[l]!) ? r : l;
      const c = items[child]!;
      if (!before(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }

  /** Drop stale entries in one pass when they outnumber live ones (keeps memory bounded under churn). */
  compact(isLive: (e: DueEntry) => boolean): void {
    const live = this.items.filter(isLive);
    this.items.length = 0;
    for (const e of live) this.push(e);
  }
}

function before(a: DueEntry, b: DueEntry): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.id < b.id);
}

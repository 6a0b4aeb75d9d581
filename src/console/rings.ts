// Bounded memories of what happened, for snapshots: the newest events from the EventBus and the newest
// log lines from pino. The daemon keeps one of each and copies them into every BoxSnapshot.
import type { BoxEvent, EventBus } from "../log/events.ts";
import type { EventSnapshot, LogLineSnapshot } from "../state/snapshot.ts";

export const DEFAULT_RING_CAPACITY = 500;
export const MAX_TEXT = 400;

class Ring<T> {
  private readonly items: T[] = [];
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`ring capacity must be a positive integer, not ${capacity}`);
  }
  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }
  snapshot(): readonly T[] {
    return [...this.items];
  }
}

/** Keeps the newest events published on an EventBus. */
export class EventRing {
  private readonly ring: Ring<EventSnapshot>;
  private unsubscribe: (() => void) | null = null;

  constructor(capacity = DEFAULT_RING_CAPACITY) {
    this.ring = new Ring(capacity);
  }

  attach(bus: EventBus): void {
    this.detach();
    this.unsubscribe = bus.subscribe((e) => this.add(e, e.at));
  }

  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  add(e: BoxEvent, atMs: number): void {
    this.ring.push({ atMs, event: clip(e.event), reason: clip(e.reason ?? "") });
  }

  events(): readonly EventSnapshot[] {
    return this.ring.snapshot();
  }
}

const LEVEL_NAMES: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/**
 * Keeps the newest log lines. `stream` is a pino destination (use it with pino.multistream next to the
 * real one); lines that are not pino JSON are kept as they are.
 */
export class LogRing {
  private readonly ring: Ring<LogLineSnapshot>;
  readonly stream: { write(chunk: string): void };

  constructor(capacity = DEFAULT_RING_CAPACITY) {
    this.ring = new Ring(capacity);
    this.stream = { write: (chunk: string) => this.write(chunk) };
  }

  private write(chunk: string): void {
    for (const line of chunk.split("\n")) {
      if (line.trim() === "") continue;
      this.ring.push(parseLine(line));
    }
  }

  lines(): readonly LogLineSnapshot[] {
    return this.ring.snapshot();
  }
}

function parseLine(line: string): LogLineSnapshot {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const level =
      typeof o["level"] === "number"
        ? (LEVEL_NAMES[o["level"]] ?? String(o["level"]))
        : String(o["level"] ?? "info");
    const at = typeof o["time"] === "number" ? o["time"] : Date.now();
    const event = typeof o["event"] === "string" ? `${o["event"]}: ` : "";
    return { atMs: at, level, msg: clip(`${event}${typeof o["msg"] === "string" ? o["msg"] : ""}`) };
  } catch {
    return { atMs: Date.now(), level: "info", msg: clip(line) };
  }
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text;
}

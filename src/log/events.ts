// Every state change of the box is one structured event: a pino line with `event` naming what changed.
// Subscribers (console, metrics, notify hooks) get the same object the log line was made from.
import type { Logger } from "pino";

export interface BoxEvent {
  /** Dotted kind, e.g. "config.loaded", "vrrp.state", "ipvs.dest.removed", "health.down". */
  readonly event: string;
  /** Why it happened, in words an operator reads on the console. */
  readonly reason?: string;
  readonly [field: string]: unknown;
}

export type EventListener = (e: BoxEvent & { readonly at: number }) => void;

/** Bounded fan-out: a slow or throwing listener cannot stop the others or the emitter. */
export class EventBus {
  static readonly MAX_LISTENERS = 64;
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly log: Logger) {}

  subscribe(listener: EventListener): () => void {
    if (this.listeners.size >= EventBus.MAX_LISTENERS) throw new Error("EventBus: too many listeners");
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: BoxEvent): void {
    const stamped = { ...e, at: Date.now() };
    this.log.info(stamped, e.reason ?? e.event);
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch (err) {
        this.log.error({ event: "events.listener_failed", err }, "event listener threw");
      }
    }
  }
}

// Bytes, rate and ETA of a long copy, for the console and the logs. Pure.

export interface Progress {
  readonly bytes: number;
  readonly total: number;
  readonly startedMs: number;
  readonly nowMs: number;
}

export function rateBps(p: Progress): number {
  const s = (p.nowMs - p.startedMs) / 1000;
  return s > 0 ? Math.round(p.bytes / s) : 0;
}

export function etaSeconds(p: Progress): number | undefined {
  const r = rateBps(p);
  return r > 0 ? Math.ceil((p.total - p.bytes) / r) : undefined;
}

export function formatProgress(what: string, p: Progress): string {
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const eta = etaSeconds(p);
  const pct = p.total > 0 ? Math.floor((100 * p.bytes) / p.total) : 0;
  return `${what}: ${mib(p.bytes)}/${mib(p.total)} MiB (${pct}%), ${mib(rateBps(p))} MiB/s, ETA ${eta === undefined ? "?" : `${eta} s`}`;
}

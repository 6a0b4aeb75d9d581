// Plain-text layout helpers shared by the TUI, the CLI and the help texts. ASCII only: a serial console
// at 115200 baud behind a KVM switch may show nothing else, and nothing here relies on colour.

/** Keep printable ASCII; anything else (control bytes from a snapshot string, UTF-8) becomes "?". */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}

/** Exactly `width` columns: cut with a "~" marker when too long, padded with spaces when short. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  const clean = printable(text);
  if (clean.length > width) return width === 1 ? "~" : clean.slice(0, width - 1) + "~";
  return clean.padEnd(width, " ");
}

/** Right-aligned in `width` columns (numbers in tables). */
export function fitRight(text: string, width: number): string {
  const clean = printable(text);
  if (clean.length > width) return fit(clean, width);
  return clean.padStart(width, " ");
}

/** "3d 04:05:06", "04:05:06" below a day. */
export function formatUptime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const hms = `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  return days > 0 ? `${days}d ${hms}` : hms;
}

/** UTC wall clock "2026-11-23 13:30:05Z": boxes in different sites compare logs in UTC. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "????-??-?? ??:??:??Z";
  return d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

/** "13:30:05" UTC, for dense tables. */
export function formatTimeOfDay(ms: number): string {
  return formatClock(ms).slice(11, 19);
}

/** `[update] url` polling in one line, for `show update` and the TUI's update screen. */
export function formatUpdatePoll(p: {
  readonly url: string;
  readonly intervalS: number;
  readonly nextCheckAtMs: number | null;
  readonly last: string;
}): string {
  const next = p.nextCheckAtMs === null ? "" : `; next check ${formatTimeOfDay(p.nextCheckAtMs)} UTC`;
  return `${p.url} every ${p.intervalS} s${next}${p.last === "" ? "" : `; last: ${p.last}`}`;
}

/** Compact counts for narrow columns: 999, 1.2K, 34M, 5.6G. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "?";
  const abs = Math.abs(n);
  if (abs < 10_000) return String(Math.round(n));
  const units = ["K", "M", "G", "T", "P"];
  let value = n;
  let unit = "";
  for (const u of units) {
    if (Math.abs(value) < 1000) break;
    value /= 1000;
    unit = u;
  }
  return (Math.abs(value) < 10 ? value.toFixed(1) : String(Math.round(value))) + unit;
}

export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 10_000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? String(value) : value.toFixed(1)} ${units[i]}`;
}

/** Time left: "0:42", "12:05", "3:04:05"; "?" when it cannot be known (no rate, bad numbers). */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const total = Math.ceil(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`;
}

/** "[#######.......]  42%" in exactly `width` columns. */
export function progressBar(done: number, total: number, width: number): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3, " ")}%`;
  const inner = Math.max(0, width - percent.length - 3);
  const filled = Math.round(fraction * inner);
  return fit(`[${"#".repeat(filled)}${".".repeat(inner - filled)}] ${percent}`, width);
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

// Terminal input bytes -> key names, without I/O. Printable characters are one-character strings; every
// other key has a longer name ("up", "enter", "C-l"), so the two can never be confused.
//
// A lone ESC is ambiguous (Escape key, or the start of an arrow key's sequence split across reads, as
// happens on a slow serial line). The decoder holds it back and the adapter calls flush() after
// ESCAPE_TIMEOUT_MS without more input, which turns it into "escape".

export type Key = string;

export const ESCAPE_TIMEOUT_MS = 50;
/** A sequence longer than this is garbage (or an unsupported report) and is dropped. */
const MAX_SEQUENCE = 16;

const CSI_FINAL: Record<string, Key> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "backtab",
};
const CSI_TILDE: Record<string, Key> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "pageup",
  "6": "pagedown",
  "7": "home",
  "8": "end",
};
const SS3: Record<string, Key> = { A: "up", B: "down", C: "right", D: "left", H: "home", F: "end" };

export class KeyDecoder {
  private pending = "";
  private lastWasCr = false;

  /** Feeds decoded text; returns complete keys. `waiting` is true when an ESC is held for flush(). */
  feed(text: string): { keys: Key[]; waiting: boolean } {
    const keys: Key[] = [];
    const input = this.pending + text;
    this.pending = "";
    let i = 0;
    while (i < input.length) {
      const ch = input[i]!;
      if (ch === "\x1b") {
        const parsed = parseEscape(input, i);
        if (parsed === "incomplete") {
          this.pending = input.slice(i);
          if (this.pending.length > MAX_SEQUENCE) this.pending = "";
          break;
        }
        if (parsed.key !== null) keys.push(parsed.key);
        i = parsed.next;
        this.lastWasCr = false;
        continue;
      }
      i++;
      if (ch === "\n" && this.lastWasCr) {
        this.lastWasCr = false;
        continue; // CR LF from a client in cooked mode is one Enter
      }
      this.lastWasCr = ch === "\r";
      const key = plainKey(ch);
      if (key !== null) keys.push(key);
    }
    return { keys, waiting: this.pending.length > 0 };
  }

  /** Called after ESCAPE_TIMEOUT_MS of silence: a held ESC was the Escape key. */
  flush(): Key[] {
    const held = this.pending;
    this.pending = "";
    if (held === "") return [];
    // ESC alone is Escape; ESC + a printable char is Alt+char, which we treat as Escape then the char.
    const rest = held.slice(1);
    return ["escape", ...this.feed(rest).keys];
  }
}

function plainKey(ch: string): Key | null {
  const code = ch.charCodeAt(0);
  if (ch === "\r" || ch === "\n") return "enter";
  if (ch === "\t") return "tab";
  if (code === 0x7f || code === 0x08) return "backspace";
  if (code < 0x20) return `C-${String.fromCharCode(code + 0x60)}`;
  if (code < 0x7f) return ch;
  if (code >= 0xa0) return ch; // non-ASCII printable: callers that want ASCII filter it
  return null;
}

function parseEscape(input: string, start: number): "incomplete" | { key: Key | null; next: number } {
  const introducer = input[start + 1];
  if (introducer === undefined) return "incomplete";
  if (introducer === "[") {
    // Parameter and intermediate bytes (0x20-0x3f), then one final byte (0x40-0x7e).
    let j = start + 2;
    while (j < input.length && input.charCodeAt(j) >= 0x20 && input.charCodeAt(j) <= 0x3f) j++;
    const overlong = j - start > MAX_SEQUENCE;
    if (j >= input.length) return overlong ? { key: null, next: input.length } : "incomplete";
    const final = input[j]!;
    const c = input.charCodeAt(j);
    if (overlong || c < 0x40 || c > 0x7e) return { key: null, next: j + (c >= 0x40 && c <= 0x7e ? 1 : 0) };
    const params = input.slice(start + 2, j);
    const key = final === "~" ? (CSI_TILDE[params.split(";")[0] ?? ""] ?? null) : (CSI_FINAL[final] ?? null);
    return { key, next: j + 1 };
  }
  if (introducer === "O") {
    const final = input[start + 2];
    if (final === undefined) return "incomplete";
    return { key: SS3[final] ?? null, next: start + 3 };
  }
  if (introducer === "\x1b") return { key: "escape", next: start + 1 };
  // Alt+key: report Escape, then let the key be decoded normally.
  return { key: "escape", next: start + 1 };
}

// Splits an SSH exec command line ("drain web '10.0.0.2:80' --json") into words. No shell runs here:
// quotes group words and backslash escapes one character; nothing is expanded.

export const MAX_COMMAND_LENGTH = 4096;
export const MAX_WORDS = 64;

export type Tokenized =
  | { readonly ok: true; readonly words: string[] }
  | { readonly ok: false; readonly error: string };

export function tokenize(line: string): Tokenized {
  if (line.length > MAX_COMMAND_LENGTH)
    return { ok: false, error: `command longer than ${MAX_COMMAND_LENGTH} characters` };
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
    if (words.length > MAX_WORDS) return { ok: false, error: `more than ${MAX_WORDS} words` };
  }
  if (quote) return { ok: false, error: `unterminated ${quote} quote` };
  if (inWord) words.push(word);
  if (words.length > MAX_WORDS) return { ok: false, error: `more than ${MAX_WORDS} words` };
  return { ok: true, words };
}

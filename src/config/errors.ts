// Config errors: every problem names the file, the 1-based line and column, and a message that
// says what is wrong and what is allowed. They print as `FILE:LINE:COL: message`, the shape editors
// and CI logs turn into links.

export interface ConfigError {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}

/**
 * Sort by position (equal positions keep the order they were found in; Array.sort is stable) and
 * drop exact repeats, e.g. one service-level check problem met once per real server.
 */
export function sortErrors(errors: readonly ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const id = `${e.line}:${e.col}:${e.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return unique.sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * Edit distance counting a swap of two neighbouring letters as one edit (optimal string
 * alignment), since "eht0" for "eth0" is the commonest typo. Inputs are key names and enum words.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    const prev = rows[i - 1] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row[j] = d;
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/** The closest candidate when it is close enough to be a plausible typo, else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.min(3, Math.floor(Math.max(word.length, best.length) / 3)));
  return bestDistance <= limit ? best : undefined;
}

/** " (did you mean 'x'?)" or "" */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? "" : ` (did you mean '${c}'?)`;
}

// Position index: a tokenizer pass over TOML text that maps every key path to where its key, its
// value and (for tables) its header start. smol-toml gives us the values but no positions; this
// pass gives the positions but no values. It runs only on text smol-toml has already accepted, so
// it may assume valid TOML, yet it never loops forever or throws on anything it does not expect.
//
// Columns are 1-based UTF-16 code units, as smol-toml counts them, so syntax errors and semantic
// errors point with the same ruler.

import { formatPath, type KeyPath, type PathSeg } from "./path.ts";

export interface Pos {
  readonly line: number;
  readonly col: number;
}

export interface PathPositions {
  /** first character of the key segment that names this path (first definition wins) */
  key?: Pos;
  /** first character of the value (string quote, number, `[`, `{`) */
  value?: Pos;
  /** the `[` of the `[table]` / `[[array.of.tables]]` header that opened this table */
  table?: Pos;
}

export class PositionIndex {
  private readonly byPath = new Map<string, PathPositions>();

  get(path: KeyPath): PathPositions | undefined {
    return this.byPath.get(formatPath(path));
  }

  /** Where to point for a value problem: the value, else the key, else the table header. */
  valuePos(path: KeyPath): Pos | undefined {
    const p = this.get(path);
    return p?.value ?? p?.key ?? p?.table;
  }

  /** Where to point for a key problem (unknown key): the key, else the header. */
  keyPos(path: KeyPath): Pos | undefined {
    const p = this.get(path);
    return p?.key ?? p?.table ?? p?.value;
  }

  /** Where to point for a table problem (missing key): the header, else the key naming the inline table. */
  tablePos(path: KeyPath): Pos | undefined {
    const p = this.get(path);
    return p?.table ?? p?.key ?? p?.value;
  }

  /** Every indexed path in document order of first appearance (for tests and debugging). */
  paths(): string[] {
    return [...this.byPath.keys()];
  }

  record(path: KeyPath, what: keyof PathPositions, pos: Pos): void {
    const id = formatPath(path);
    let entry = this.byPath.get(id);
    if (entry === undefined) {
      entry = {};
      this.byPath.set(id, entry);
    }
    if (entry[what] === undefined) entry[what] = pos;
  }
}

interface KeySegment {
  readonly name: string;
  readonly pos: Pos;
}

/** Nesting bound for arrays and inline tables, far beyond any sane config. */
const MAX_DEPTH = 64;

class Scanner {
  private i = 0;
  private line = 1;
  private col = 1;

  constructor(private readonly s: string) {}

  get eof(): boolean {
    return this.i >= this.s.length;
  }

  peek(offset = 0): string {
    return this.s[this.i + offset] ?? "";
  }

  startsWith(text: string): boolean {
    return this.s.startsWith(text, this.i);
  }

  pos(): Pos {
    return { line: this.line, col: this.col };
  }

  advance(n = 1): void {
    for (let k = 0; k < n && this.i < this.s.length; k++) {
      const c = this.s[this.i];
      this.i++;
      if (c === "\n") {
        this.line++;
        this.col = 1;
      } else {
        this.col++;
      }
    }
  }

  /** Spaces and tabs only. */
  skipBlanks(): void {
    while (this.peek() === " " || this.peek() === "\t") this.advance();
  }

  skipComment(): void {
    if (this.peek() !== "#") return;
    while (!this.eof && this.peek() !== "\n") this.advance();
  }

  /** Blanks, newlines and comments (between statements and inside arrays). */
  skipTrivia(): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r" || c === "\n") this.advance();
      else if (c === "#") this.skipComment();
      else return;
    }
  }

  skipToLineEnd(): void {
    while (!this.eof && this.peek() !== "\n") this.advance();
  }
}

const BARE_KEY_CHAR = /[A-Za-z0-9_-]/;

export function buildPositionIndex(text: string): PositionIndex {
  const index = new PositionIndex();
  const sc = new Scanner(text);
  const arrayTableCounts = new Map<string, number>();
  let current: PathSeg[] = [];

  while (!sc.eof) {
    sc.skipTrivia();
    if (sc.eof) break;
    const before = sc.pos();
    if (sc.peek() === "[") {
      current = readHeader(sc, index, arrayTableCounts);
    } else {
      readKeyValue(sc, index, current, 0);
    }
    sc.skipBlanks();
    sc.skipComment();
    const after = sc.pos();
    // Valid TOML always moves forward; on anything else drop the rest of the line rather than spin.
    if (after.line === before.line && after.col === before.col) {
      sc.skipToLineEnd();
      if (sc.eof) break;
    }
  }
  return index;
}

function readHeader(sc: Scanner, index: PositionIndex, counts: Map<string, number>): PathSeg[] {
  const headerPos = sc.pos();
  sc.advance();
  const isArray = sc.peek() === "[";
  if (isArray) sc.advance();
  const segs = readKey(sc);
  sc.skipBlanks();
  if (sc.peek() === "]") sc.advance();
  if (isArray && sc.peek() === "]") sc.advance();

  const path: PathSeg[] = [];
  segs.forEach((seg, j) => {
    path.push(seg.name);
    index.record(path, "key", seg.pos);
    const id = formatPath(path);
    const last = j === segs.length - 1;
    if (last && isArray) {
      const n = counts.get(id) ?? 0;
      counts.set(id, n + 1);
      path.push(n);
      index.record(path, "key", seg.pos);
      index.record(path, "table", headerPos);
    } else if (!last) {
      // An array of tables named as a prefix means its latest element.
      const n = counts.get(id);
      if (n !== undefined) path.push(n - 1);
    } else {
      index.record(path, "table", headerPos);
    }
  });
  return path;
}

function readKeyValue(sc: Scanner, index: PositionIndex, base: readonly PathSeg[], depth: number): void {
  const segs = readKey(sc);
  if (segs.length === 0) return;
  const path: PathSeg[] = [...base];
  for (const seg of segs) {
    path.push(seg.name);
    index.record(path, "key", seg.pos);
  }
  sc.skipBlanks();
  if (sc.peek() !== "=") return;
  sc.advance();
  sc.skipBlanks();
  readValue(sc, index, path, depth);
}

function readKey(sc: Scanner): KeySegment[] {
  const segs: KeySegment[] = [];
  for (;;) {
    sc.skipBlanks();
    const pos = sc.pos();
    const c = sc.peek();
    let name: string;
    if (c === '"') name = readBasicString(sc);
    else if (c === "'") name = readLiteralString(sc);
    else {
      name = "";
      while (BARE_KEY_CHAR.test(sc.peek())) {
        name += sc.peek();
        sc.advance();
      }
      if (name === "") return segs;
    }
    segs.push({ name, pos });
    sc.skipBlanks();
    if (sc.peek() !== ".") return segs;
    sc.advance();
  }
}

function readValue(sc: Scanner, index: PositionIndex, path: PathSeg[], depth: number): void {
  index.record(path, "value", sc.pos());
  const c = sc.peek();
  if (c === '"') {
    if (sc.startsWith('"""')) skipMultiline(sc, '"""', true);
    else readBasicString(sc);
  } else if (c === "'") {
    if (sc.startsWith("'''")) skipMultiline(sc, "'''", false);
    else readLiteralString(sc);
  } else if (c === "[") {
    sc.advance();
    if (depth >= MAX_DEPTH) return;
    let i = 0;
    for (;;) {
      sc.skipTrivia();
      if (sc.eof || sc.peek() === "]") break;
      const before = sc.pos();
      readValue(sc, index, [...path, i], depth + 1);
      i++;
      sc.skipTrivia();
      if (sc.peek() === ",") sc.advance();
      else if (samePos(before, sc.pos())) break;
    }
    if (sc.peek() === "]") sc.advance();
  } else if (c === "{") {
    sc.advance();
    if (depth >= MAX_DEPTH) return;
    for (;;) {
      sc.skipTrivia();
      if (sc.eof || sc.peek() === "}") break;
      const before = sc.pos();
      readKeyValue(sc, index, path, depth + 1);
      sc.skipTrivia();
      if (sc.peek() === ",") sc.advance();
      else if (samePos(before, sc.pos())) break;
    }
    if (sc.peek() === "}") sc.advance();
  } else {
    // Numbers, booleans, dates (which may hold one space): up to a delimiter.
    while (!sc.eof && !",]}#\n\r".includes(sc.peek())) sc.advance();
  }
}

function samePos(a: Pos, b: Pos): boolean {
  return a.line === b.line && a.col === b.col;
}

const ESCAPES: Record<string, string> = {
  b: "\b",
  t: "\t",
  n: "\n",
  f: "\f",
  r: "\r",
  e: "\x1b",
  '"': '"',
  "\\": "\\",
};

/** A single-line "basic" string; returns its decoded text (keys need it). */
function readBasicString(sc: Scanner): string {
  sc.advance();
  let out = "";
  while (!sc.eof && sc.peek() !== '"' && sc.peek() !== "\n") {
    const c = sc.peek();
    if (c === "\\") {
      const e = sc.peek(1);
      if (e === "u" || e === "U" || e === "x") {
        const len = e === "u" ? 4 : e === "U" ? 8 : 2;
        let hex = "";
        for (let k = 0; k < len; k++) hex += sc.peek(2 + k);
        const code = Number.parseInt(hex, 16);
        out += Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : "";
        sc.advance(2 + len);
      } else {
        out += ESCAPES[e] ?? e;
        sc.advance(2);
      }
    } else {
      out += c;
      sc.advance();
    }
  }
  if (sc.peek() === '"') sc.advance();
  return out;
}

function readLiteralString(sc: Scanner): string {
  sc.advance();
  let out = "";
  while (!sc.eof && sc.peek() !== "'" && sc.peek() !== "\n") {
    out += sc.peek();
    sc.advance();
  }
  if (sc.peek() === "'") sc.advance();
  return out;
}

function skipMultiline(sc: Scanner, quote: string, escapes: boolean): void {
  sc.advance(3);
  while (!sc.eof) {
    if (escapes && sc.peek() === "\\") {
      sc.advance(2);
      continue;
    }
    if (sc.startsWith(quote)) {
      // Up to two quote characters may close the string as content: """a"""" is a + ".
      let run = 0;
      while (sc.peek(run) === quote[0]) run++;
      sc.advance(Math.min(run, 5));
      return;
    }
    sc.advance();
  }
}

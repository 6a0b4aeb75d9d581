// Bad input never crashes the loader: seeded random mutations of every example (deleted lines,
// values of the wrong type, truncation) must give either a config or well-formed, sorted errors
// that point inside the file.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";

const EXAMPLES = join(import.meta.dir, "../../examples");
const MUTATIONS_PER_EXAMPLE = 300;
const REPLACEMENTS = [
  "5",
  "-1",
  "0",
  "1.5",
  "99999999999",
  "true",
  '"x"',
  '""',
  '"10.0.0.1"',
  '"::"',
  '"10.0.0.0/8"',
  "[]",
  '[1, "a"]',
  "{}",
  "{ a = 1 }",
  "[{ address = 1 }]",
  "1979-05-27",
];

/** mulberry32: a small seeded PRNG so every failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, rand: () => number): string {
  const lines = text.split("\n");
  const pick = () => Math.floor(rand() * lines.length);
  const kind = Math.floor(rand() * 4);
  const i = pick();
  const line = lines[i] ?? "";
  if (kind === 0) lines.splice(i, 1);
  else if (kind === 1 && line.includes("=")) {
    const value = REPLACEMENTS[Math.floor(rand() * REPLACEMENTS.length)] ?? "1";
    lines[i] = `${line.slice(0, line.indexOf("=") + 1)} ${value}`;
  } else if (kind === 2) lines.splice(i, 0, line);
  else return text.slice(0, Math.floor(rand() * text.length));
  return lines.join("\n");
}

describe("mutated examples", () => {
  for (const f of readdirSync(EXAMPLES).filter((x) => x.endsWith(".toml"))) {
    test(`${f}: ${MUTATIONS_PER_EXAMPLE} mutations never throw and always point inside the file`, () => {
      const original = readFileSync(join(EXAMPLES, f), "utf8");
      const rand = rng(f.length * 7919 + (f.codePointAt(0) ?? 0));
      let rejected = 0;
      for (let n = 0; n < MUTATIONS_PER_EXAMPLE; n++) {
        // Two mutations on top of each other reach more combinations.
        const text = mutate(mutate(original, rand), rand);
        const lineCount = text.split("\n").length;
        const r = parseConfig(text, f);
        if (r.ok) continue;
        rejected++;
        expect(r.errors.length).toBeGreaterThan(0);
        let prev = { line: 0, col: 0 };
        for (const e of r.errors) {
          const inside = e.line >= 1 && e.line <= lineCount && e.col >= 1 && e.message.length > 0;
          if (!inside) throw new Error(`mutation ${n}: bad error ${JSON.stringify(e)}\n${text}`);
          expect(e.line > prev.line || (e.line === prev.line && e.col >= prev.col)).toBe(true);
          prev = e;
        }
      }
      // Most mutations break something; if none did, the mutator is not doing its job.
      expect(rejected).toBeGreaterThan(MUTATIONS_PER_EXAMPLE / 4);
    });
  }
});

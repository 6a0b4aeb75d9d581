// Durable replace of files on the data partition: whole new content, no temporary left behind, mode kept.
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileDurably } from "../../src/system/durable.ts";

test("writes, replaces whole, leaves no temporary file, and keeps the requested mode", () => {
  const dir = mkdtempSync(join(tmpdir(), "fulcrum-durable-"));
  try {
    const path = join(dir, "fulcrum.toml");
    writeFileDurably(path, "a = 1\n", 0o600);
    expect(readFileSync(path, "utf8")).toBe("a = 1\n");
    writeFileDurably(path, new TextEncoder().encode("b = 2\n"), 0o600);
    expect(readFileSync(path, "utf8")).toBe("b = 2\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["fulcrum.toml"]);
    expect(() => writeFileDurably(join(dir, "missing", "x"), "c")).toThrow();
    expect(readdirSync(dir)).toEqual(["fulcrum.toml"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

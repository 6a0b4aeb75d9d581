import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { diffConfigs } from "../../src/config/diff.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";

const EXAMPLE = readFileSync(join(import.meta.dir, "../../examples/dr-web-a.toml"), "utf8");

function load(text: string): Config {
  const r = parseConfig(text, "x.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

describe("diffConfigs", () => {
  const base = load(EXAMPLE);

  test("the same file, or the same file with comments and blank lines moved, is no change", () => {
    expect(diffConfigs(base, load(EXAMPLE))).toEqual([]);
    expect(diffConfigs(base, load(`# a new comment\n\n${EXAMPLE}`))).toEqual([]);
  });

  test("a weight change is one line naming the real server", () => {
    const changed = EXAMPLE.replace(
      /address = "10.0.1.12"\nweight = 100/,
      'address = "10.0.1.12"\nweight = 50',
    );
    expect(diffConfigs(base, load(changed))).toEqual([
      "~ services[web-http].real[10.0.1.12:80].weight: 100 -> 50",
    ]);
  });

  test("a new real server and a removed one are one line each, not one per field", () => {
    const changed = EXAMPLE.replace(
      /\[\[services.web-https.real\]\]\naddress = "10.0.1.12"\n/,
      '[[services.web-https.real]]\naddress = "10.0.1.13"\n',
    );
    expect(diffConfigs(base, load(changed))).toEqual([
      "- services[web-https].real[10.0.1.12:443]",
      "+ services[web-https].real[10.0.1.13:443]",
    ]);
  });

  test("priority and scheduler changes", () => {
    const changed = EXAMPLE.replace("priority = 150", "priority = 90").replace(
      'scheduler = "wlc"',
      'scheduler = "rr"',
    );
    expect(diffConfigs(base, load(changed))).toEqual([
      '~ services[web-http].scheduler: "wlc" -> "rr"',
      "~ vrrp.instances[VI_WEB].priority: 150 -> 90",
    ]);
  });
});

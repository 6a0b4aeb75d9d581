// The CLI as an operator runs it: real processes, real files, exit codes and output lines.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runCli } from "../../src/cli/cli.ts";

const ROOT = join(import.meta.dir, "../..");
const FIXTURES = "test/fixtures/config";

function run(...args: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync([process.execPath, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("fulcrum check (bun src/main.ts)", () => {
  test("valid config: exit 0 and 'configuration OK'", () => {
    const r = run("src/main.ts", "check", "examples/dr-web-a.toml");
    expect(r.code).toBe(0);
    expect(r.out).toBe("examples/dr-web-a.toml: configuration OK\n");
    expect(r.err).toBe("");
  });

  test("broken config: exit 1 and one FILE:LINE:COL: message line per problem", () => {
    const file = `${FIXTURES}/broken.toml`;
    const r = run("src/main.ts", "check", file);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err.trimEnd().split("\n")).toEqual([
      `${file}:8:13: services.web.scheduler: unknown scheduler 'wrrr'; allowed: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos (did you mean 'wrr'?)`,
      `${file}:12:1: services.web.real[0].wieght: unknown key 'wieght' (did you mean 'weight'?); allowed keys here: address, port, weight, method, u_threshold, l_threshold, check`,
      `${file}:16:10: services.web.real[1].weight: 70000 is out of range; allowed: 0..65535`,
    ]);
  });

  test("TOML syntax error: exit 1 with its position", () => {
    const file = `${FIXTURES}/syntax.toml`;
    const r = run("src/main.ts", "check", file);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `${file}:2:17: TOML syntax error: unterminated string (a string ends on its own line; use """ for multi-line text)\n`,
    );
  });

  test("missing file: exit 1 with the OS reason at 1:1", () => {
    const r = run("src/main.ts", "check", `${FIXTURES}/does-not-exist.toml`);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${FIXTURES}/does-not-exist.toml:1:1: cannot read config: no such file (ENOENT)\n`);
  });

  test("usage errors exit 2", () => {
    expect(run("src/main.ts", "check").code).toBe(2);
    expect(run("src/main.ts", "check", "a.toml", "b.toml").code).toBe(2);
    expect(run("src/main.ts", "frobnicate").code).toBe(2);
    expect(run("src/main.ts").code).toBe(2);
  });

  test("--version exits 0 and names the version", () => {
    const r = run("src/main.ts", "--version");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^fulcrum \d+\.\d+\.\d+ \(build [^)]+\)\n$/);
  });
});

describe("fulcrum check (bun run fulcrum)", () => {
  test("the package script gives the same exit codes", () => {
    expect(run("run", "--silent", "fulcrum", "check", `${FIXTURES}/minimal.toml`).code).toBe(0);
    expect(run("run", "--silent", "fulcrum", "check", `${FIXTURES}/broken.toml`).code).toBe(1);
    expect(run("run", "--silent", "fulcrum", "check").code).toBe(2);
    expect(run("run", "--silent", "fulcrum", "--version").code).toBe(0);
  });
});

describe("runCli in process", () => {
  test("every example passes check", async () => {
    for (const f of ["dr-web-a", "dr-web-b", "nat", "tun", "mysql-ha-a", "mysql-ha-b"]) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(["check", join(ROOT, "examples", `${f}.toml`)], {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
      });
      expect({ f, code, err }).toEqual({ f, code: 0, err: [] });
      expect(out.join("")).toEndWith("configuration OK\n");
    }
  });
});

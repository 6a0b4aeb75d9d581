// The position index on its own: every key path of a TOML text maps to where its key, value and
// table header start (1-based line:col), across the TOML forms a config uses.
import { describe, expect, test } from "bun:test";
import { formatPath } from "../../src/config/path.ts";
import { buildPositionIndex, type PositionIndex } from "../../src/config/positions.ts";

function at(index: PositionIndex, path: (string | number)[], what: "key" | "value" | "table"): string {
  const p = index.get(path)?.[what];
  return p === undefined ? "none" : `${p.line}:${p.col}`;
}

describe("formatPath", () => {
  test("bare keys, quoted keys and indices", () => {
    expect(formatPath(["services", "web", "real", 1, "weight"])).toBe("services.web.real[1].weight");
    expect(formatPath(["interfaces", "eth0.100", "mtu"])).toBe('interfaces."eth0.100".mtu');
    expect(formatPath(["a b"])).toBe('"a b"');
    expect(formatPath([])).toBe("");
  });
});

describe("buildPositionIndex", () => {
  test("plain keys and table headers", () => {
    const ix = buildPositionIndex(
      ["# comment", "[system]", 'hostname = "lb-a"', "", "[system.ssh]", "  port = 22"].join("\n"),
    );
    expect(at(ix, ["system"], "table")).toBe("2:1");
    expect(at(ix, ["system"], "key")).toBe("2:2");
    expect(at(ix, ["system", "hostname"], "key")).toBe("3:1");
    expect(at(ix, ["system", "hostname"], "value")).toBe("3:12");
    expect(at(ix, ["system", "ssh"], "table")).toBe("5:1");
    expect(at(ix, ["system", "ssh"], "key")).toBe("5:9");
    expect(at(ix, ["system", "ssh", "port"], "key")).toBe("6:3");
    expect(at(ix, ["system", "ssh", "port"], "value")).toBe("6:10");
  });

  test("dotted and quoted keys, in headers and in key/values", () => {
    const ix = buildPositionIndex(
      ['[interfaces."eth0.100"]', "kind = 'vlan'", 'a . "b c" . d = 1', "[ x . 'y' ]", "z=true"].join("\n"),
    );
    expect(at(ix, ["interfaces", "eth0.100"], "key")).toBe("1:13");
    expect(at(ix, ["interfaces", "eth0.100", "kind"], "value")).toBe("2:8");
    expect(at(ix, ["interfaces", "eth0.100", "a"], "key")).toBe("3:1");
    expect(at(ix, ["interfaces", "eth0.100", "a", "b c"], "key")).toBe("3:5");
    expect(at(ix, ["interfaces", "eth0.100", "a", "b c", "d"], "key")).toBe("3:13");
    expect(at(ix, ["interfaces", "eth0.100", "a", "b c", "d"], "value")).toBe("3:17");
    expect(at(ix, ["x", "y"], "key")).toBe("4:7");
    expect(at(ix, ["x", "y", "z"], "value")).toBe("5:3");
  });

  test("arrays of tables count per parent, and sub-tables attach to the latest element", () => {
    const ix = buildPositionIndex(
      [
        "[services.web]",
        "port = 80",
        "[[services.web.real]]",
        'address = "10.0.0.1"',
        "[[services.web.real]]",
        'address = "10.0.0.2"',
        "[services.web.real.check]",
        'type = "tcp"',
        "[services.db]",
        "[[services.db.real]]",
        "weight = 3",
      ].join("\n"),
    );
    expect(at(ix, ["services", "web", "real"], "key")).toBe("3:16");
    expect(at(ix, ["services", "web", "real", 0], "table")).toBe("3:1");
    expect(at(ix, ["services", "web", "real", 1], "table")).toBe("5:1");
    expect(at(ix, ["services", "web", "real", 1, "address"], "value")).toBe("6:11");
    expect(at(ix, ["services", "web", "real", 1, "check"], "table")).toBe("7:1");
    expect(at(ix, ["services", "web", "real", 1, "check", "type"], "value")).toBe("8:8");
    expect(at(ix, ["services", "db", "real", 0, "weight"], "value")).toBe("11:10");
    expect(ix.get(["services", "db", "real", 1])).toBeUndefined();
  });

  test("arrays and inline tables, nested and across lines with comments", () => {
    const ix = buildPositionIndex(
      [
        "routes = [",
        '  { to = "default", via = "10.0.0.1" }, # the gateway',
        '  { to = "10.9.0.0/16", via = "10.0.0.254", metric = 10 },',
        "]",
        'm = [[1, 2], ["a", { k = "v" }]]',
        "check = { type = 'http', expect = [200, \"300-399\"] }",
      ].join("\n"),
    );
    expect(at(ix, ["routes"], "value")).toBe("1:10");
    expect(at(ix, ["routes", 0], "value")).toBe("2:3");
    expect(at(ix, ["routes", 0, "via"], "key")).toBe("2:21");
    expect(at(ix, ["routes", 0, "via"], "value")).toBe("2:27");
    expect(at(ix, ["routes", 1, "metric"], "value")).toBe("3:54");
    expect(at(ix, ["m", 0, 1], "value")).toBe("5:10");
    expect(at(ix, ["m", 1, 1, "k"], "value")).toBe("5:26");
    expect(at(ix, ["check", "expect", 1], "value")).toBe("6:41");
    expect(ix.tablePos(["check"])).toEqual({ line: 6, col: 1 });
    expect(ix.tablePos(["routes", 1])).toEqual({ line: 3, col: 3 });
  });

  test("multi-line strings, escapes and strings holding TOML punctuation do not confuse it", () => {
    const ix = buildPositionIndex(
      [
        'a = """',
        "line [x] = 1",
        '# not a comment "" ',
        '"""',
        "b = '''",
        "c = 2 ]",
        "'''",
        'd = "x = [ \\" # { " # real comment',
        "e = 'lit # ['",
        'f = """q"""""',
        "g = 1979-05-27 07:32:00Z",
        "h = 3",
      ].join("\n"),
    );
    expect(at(ix, ["a"], "value")).toBe("1:5");
    expect(ix.get(["line"])).toBeUndefined();
    expect(ix.get(["c"])).toBeUndefined();
    expect(at(ix, ["b"], "value")).toBe("5:5");
    expect(at(ix, ["d"], "value")).toBe("8:5");
    expect(at(ix, ["e"], "value")).toBe("9:5");
    expect(at(ix, ["f"], "value")).toBe("10:5");
    expect(at(ix, ["g"], "value")).toBe("11:5");
    expect(at(ix, ["h"], "key")).toBe("12:1");
    expect(ix.paths()).toEqual(["a", "b", "d", "e", "f", "g", "h"]);
  });

  test("CRLF line ends and tabs", () => {
    const ix = buildPositionIndex("[t]\r\n\tk\t=\t5\r\nq = 1\r\n");
    expect(at(ix, ["t", "k"], "key")).toBe("2:2");
    expect(at(ix, ["t", "k"], "value")).toBe("2:6");
    expect(at(ix, ["t", "q"], "key")).toBe("3:1");
  });

  test("garbage never throws or hangs", () => {
    for (const junk of [
      "[[[",
      "= = =",
      "a = [",
      "a = {",
      '"unterminated',
      "a.b.",
      "\u0000\u0001",
      "x = [[[[[[",
    ]) {
      expect(() => buildPositionIndex(junk)).not.toThrow();
    }
  });
});

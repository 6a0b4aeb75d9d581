// startConsole as `fulcrum run` uses it: all parts up from one call; a part that cannot start (port in
// use) is reported while the others run; close() leaves nothing listening.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SystemConfig } from "../../src/config/types.ts";
import { consoleOptionsFromConfig, startConsole } from "../../src/console/index.ts";
import { FakeBox, memoryLogger } from "../unit/console-fixtures.ts";
import { Tmux } from "./console-tmux.ts";

const dir = mkdtempSync(join(tmpdir(), "fco-start-"));
const tmux = new Tmux("start");

afterAll(() => {
  tmux.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe("startConsole", () => {
  test("starts tty, SSH and API together and closes them", async () => {
    const box = new FakeBox();
    const mem = memoryLogger();
    tmux.start("serial", ["sleep", "3600"], 80, 24);
    const handle = await startConsole({
      snapshot: box.snapshot,
      actions: box,
      log: mem.log,
      tty: { device: tmux.paneTty("serial") },
      ssh: { listen: "127.0.0.1", port: 0, hostKeyDir: join(dir, "ssh"), users: [] },
      api: {
        listen: "127.0.0.1",
        port: 0,
        tokens: [{ name: "ops", token: "0123456789abcdef0123", role: "admin" }],
      },
    });
    try {
      expect(handle.errors).toEqual([]);
      await tmux.waitScreen("serial", "console", (s) => s.includes("console:") && s.includes("(admin)"));
      const metrics = await fetch(`${handle.api!.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(handle.ssh!.port).toBeGreaterThan(0);
    } finally {
      await handle.close();
    }
    await expect(fetch(`${handle.api!.url}/metrics`)).rejects.toThrow();
  }, 30_000);

  test("a part that cannot start is reported; the others still run", async () => {
    const box = new FakeBox();
    const mem = memoryLogger();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const busyPort = (blocker.address() as { port: number }).port;
    try {
      const handle = await startConsole({
        snapshot: box.snapshot,
        actions: box,
        log: mem.log,
        ssh: { listen: "127.0.0.1", port: busyPort, hostKeyDir: join(dir, "ssh2"), users: [] },
        api: { listen: "127.0.0.1", port: 0, tokens: [] },
      });
      try {
        expect(handle.ssh).toBeNull();
        expect(handle.errors).toHaveLength(1);
        expect(handle.errors[0]).toStartWith("ssh: ");
        expect((await fetch(`${handle.api!.url}/metrics`)).status).toBe(200);
        expect(mem.lines().some((l) => l["event"] === "console.start_failed" && l["part"] === "ssh")).toBe(
          true,
        );
      } finally {
        await handle.close();
      }
    } finally {
      blocker.close();
    }
  }, 30_000);
});

describe("consoleOptionsFromConfig", () => {
  test("maps [system] console, ssh and api", () => {
    const system = {
      hostname: "lb1",
      console: "ttyS0",
      console_baud: 115200,
      ssh: {
        enabled: true,
        listen: "0.0.0.0",
        port: 22,
        users: [
          {
            name: "ops",
            role: "admin",
            authorized_keys: ["ssh-ed25519 AAAA ops"],
            pos: { file: "x", line: 1, col: 1 },
          },
        ],
      },
      api: { enabled: true, listen: "192.0.2.1", port: 8080, token: "0123456789abcdef0123" },
      log: { level: "info" },
      sysctl: {},
    } as unknown as SystemConfig;
    expect(consoleOptionsFromConfig(system, "/data/")).toEqual({
      tty: { device: "/dev/ttyS0" },
      ssh: {
        listen: "0.0.0.0",
        port: 22,
        hostKeyDir: "/data/ssh",
        users: [{ name: "ops", role: "admin", keys: ["ssh-ed25519 AAAA ops"] }],
      },
      api: {
        listen: "192.0.2.1",
        port: 8080,
        tokens: [{ name: "config", token: "0123456789abcdef0123", role: "admin" }],
      },
    });
  });
});

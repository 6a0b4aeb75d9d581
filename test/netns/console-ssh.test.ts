// The SSH console against the real OpenSSH client, on loopback: exec commands for scripts, the TUI in a
// tmux pane through `ssh -t`, and the login rules (configured keys only, no passwords, roles).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "ssh2";
import { HOST_KEY_FILE } from "../../src/console/ssh/hostkey.ts";
import { type SshServerHandle, startSshServer } from "../../src/console/ssh/server.ts";
import { FakeBox, memoryLogger, waitFor } from "../unit/console-fixtures.ts";
import { Tmux } from "./console-tmux.ts";

const dir = mkdtempSync(join(tmpdir(), "fco-ssh-"));
const hostKeyDir = join(dir, "data");
const box = new FakeBox();
const mem = memoryLogger();
const tmux = new Tmux("ssh");
let server: SshServerHandle;

function keygen(name: string, type = "ed25519"): { path: string; pub: string } {
  const path = join(dir, name);
  const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", type, "-N", "", "-C", name, "-f", path]);
  if (p.exitCode !== 0) throw new Error(`ssh-keygen failed: ${p.stderr.toString()}`);
  return { path, pub: readFileSync(`${path}.pub`, "utf8").trim() };
}

const adminKey = keygen("admin_key");
const viewerKey = keygen("viewer_key");
const strangerKey = keygen("stranger_key");
const rsaKey = keygen("rsa_key", "rsa");
const ecdsaKey = keygen("ecdsa_key", "ecdsa");
const knownHosts = join(dir, "known_hosts");

function sshArgs(user: string, key: string, extra: readonly string[] = []): string[] {
  return [
    "ssh",
    "-F",
    "/dev/null",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-i",
    key,
    "-p",
    String(server.port),
    ...extra,
    `${user}@127.0.0.1`,
  ];
}

async function ssh(user: string, key: string, command: string, extra: readonly string[] = []) {
  const p = Bun.spawn([...sshArgs(user, key, extra), ...(command ? [command] : [])], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  server = await startSshServer({
    listen: "127.0.0.1",
    port: 0,
    hostKeyDir,
    users: [
      { name: "ops", role: "admin", keys: [adminKey.pub, rsaKey.pub, ecdsaKey.pub] },
      { name: "watch", role: "viewer", keys: ["not a key at all", viewerKey.pub] },
    ],
    snapshot: box.snapshot,
    actions: box,
    log: mem.log,
  });
  await Bun.write(knownHosts, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
});

afterAll(async () => {
  tmux.kill();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("host key", () => {
  test("is Ed25519, kept with mode 0600, and the same after a restart", async () => {
    const path = join(hostKeyDir, HOST_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(server.hostPublicKey).toStartWith("ssh-ed25519 ");
    const fp = Bun.spawnSync(["ssh-keygen", "-lf", `${path}.pub`]).stdout.toString();
    expect(fp).toContain(server.hostKeyFingerprint);
    const again = await startSshServer({
      listen: "127.0.0.1",
      port: 0,
      hostKeyDir,
      users: [],
      snapshot: box.snapshot,
      actions: box,
      log: mem.log,
    });
    try {
      expect(again.hostPublicKey).toBe(server.hostPublicKey);
    } finally {
      await again.close();
    }
  }, 30_000);

  test("a key line that does not parse is reported, not fatal", () => {
    expect(mem.lines().some((l) => l["event"] === "console.ssh_key_ignored" && l["user"] === "watch")).toBe(
      true,
    );
  }, 30_000);
});

describe("login", () => {
  test("RSA and ECDSA user keys work as well as Ed25519", async () => {
    for (const key of [rsaKey, ecdsaKey]) {
      const r = await ssh("ops", key.path, "show status");
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("hostname  lb1.example");
    }
  }, 30_000);

  test("a key not in config is refused", async () => {
    const r = await ssh("ops", strangerKey.path, "show vrrp");
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Permission denied (publickey)");
    const r2 = await ssh("nobody", adminKey.path, "show vrrp");
    expect(r2.code).toBe(255);
  }, 30_000);

  test("after 6 refused keys the connection is closed", async () => {
    const keys = Array.from({ length: 7 }, (_, i) => keygen(`many_${i}`));
    const extra = keys.slice(1).flatMap((k) => ["-i", k.path]);
    const r = await ssh("ops", keys[0]!.path, "show vrrp", extra);
    expect(r.code).toBe(255);
    expect(
      mem
        .lines()
        .some((l) => l["event"] === "console.ssh_auth_failed" && l["reason"] === "too many attempts"),
    ).toBe(true);
  }, 30_000);

  test("connections beyond the limit are refused", async () => {
    const limited = await startSshServer({
      listen: "127.0.0.1",
      port: 0,
      hostKeyDir,
      users: [{ name: "ops", role: "admin", keys: [adminKey.pub] }],
      snapshot: box.snapshot,
      actions: box,
      log: mem.log,
      maxConnections: 1,
    });
    appendFileSync(knownHosts, `[127.0.0.1]:${limited.port} ${limited.hostPublicKey}\n`);
    const holder = new Client();
    try {
      await new Promise<void>((resolve, reject) => {
        holder.on("ready", () => resolve());
        holder.on("error", reject);
        holder.connect({
          host: "127.0.0.1",
          port: limited.port,
          username: "ops",
          privateKey: readFileSync(adminKey.path),
          hostVerifier: () => true,
        });
      });
      const p = Bun.spawn(
        [
          ...sshArgs("ops", adminKey.path).slice(0, -3),
          "-p",
          String(limited.port),
          "ops@127.0.0.1",
          "show vrrp",
        ],
        {
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      expect(await p.exited).toBe(255);
      expect(await new Response(p.stderr).text()).not.toContain("Host key verification failed");
      expect(mem.lines().some((l) => l["event"] === "console.ssh_refused")).toBe(true);
    } finally {
      holder.end();
      await limited.close();
    }
  }, 30_000);

  test("the server offers no password authentication", async () => {
    const r = await ssh("ops", adminKey.path, "show vrrp", [
      "-o",
      "PreferredAuthentications=password,keyboard-interactive",
      "-o",
      "PubkeyAuthentication=no",
    ]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Permission denied (publickey)");
  }, 30_000);

  test("a password login is rejected even when the client insists", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const c = new Client();
      c.on("ready", () => {
        c.end();
        resolve("logged in");
      });
      c.on("error", (err) => resolve(`error: ${err.message}`));
      c.connect({
        host: "127.0.0.1",
        port: server.port,
        username: "ops",
        password: "hunter2",
        tryKeyboard: true,
        hostVerifier: () => true,
        readyTimeout: 10_000,
      });
    });
    expect(outcome).toContain("All configured authentication methods failed");
    expect(
      mem.lines().some((l) => l["event"] === "console.ssh_auth_failed" && l["method"] === "password"),
    ).toBe(true);
  }, 30_000);
});

describe("channels other than the console", () => {
  test("port forwarding is refused", async () => {
    const r = await ssh("ops", adminKey.path, "", ["-W", `127.0.0.1:${server.port}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/open failed|prohibited/i);
  }, 30_000);
});

describe("CLI over ssh exec", () => {
  test("show services --json parses and matches the box's state", async () => {
    const r = await ssh("ops", adminKey.path, "show services --json");
    expect(r.code).toBe(0);
    const services = JSON.parse(r.stdout) as {
      name: string;
      realServers: { id: string; weight: number }[];
    }[];
    const snap = box.snapshot();
    expect(services.map((s) => s.name)).toEqual(snap.services.map((s) => s.name));
    expect(services[0]!.realServers.map((r) => [r.id, r.weight])).toEqual([
      ["10.0.0.2:80", snap.services[0]!.realServers[0]!.weight],
      ["10.0.0.3:80", snap.services[0]!.realServers[1]!.weight],
      ["10.0.0.4:80", snap.services[0]!.realServers[2]!.weight],
    ]);
  }, 30_000);

  test("show vrrp in text", async () => {
    const r = await ssh("watch", viewerKey.path, "show vrrp");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/VI_web\s+eth0\s+51 MASTER/);
  }, 30_000);

  test("an admin's weight change reaches the handler, attributed to the SSH user", async () => {
    const before = box.performed.length;
    const r = await ssh("ops", adminKey.path, "weight web 10.0.0.3:80 7 --json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
    const p = box.performed[before]!;
    expect(p.action).toEqual({ kind: "weight", service: "web", real: "10.0.0.3:80", weight: 7 });
    expect(p.actor).toEqual({ who: "ops@ssh:127.0.0.1", role: "admin" });
    expect(box.findReal("web", "10.0.0.3:80")!.weight).toBe(7);
  }, 30_000);

  test("a viewer cannot run admin actions", async () => {
    const before = box.performed.length;
    const r = await ssh("watch", viewerKey.path, "drain web 10.0.0.2:80");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("permission denied");
    expect(box.performed.length).toBe(before);
  }, 30_000);

  test("with a terminal (ssh -tt) lines end in CR LF, as a raw tty needs", async () => {
    const r = await ssh("ops", adminKey.path, "show status", ["-tt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hostname  lb1.example\r\n");
    expect(r.stdout).not.toMatch(/[^\r]\n/);
  }, 30_000);

  test("commands on stdin without a terminal run line by line", async () => {
    const p = Bun.spawn([...sshArgs("ops", adminKey.path, ["-T"])], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    p.stdin.write("show status\nshow update --json\nexit\n");
    await p.stdin.end();
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    expect(out).toContain("hostname  lb1.example");
    expect(out).toContain('"bootSlot": "a"');
  }, 30_000);
});

describe("TUI over ssh -t in tmux", () => {
  test("admin: screens, drain from the services screen, resize, quit", async () => {
    tmux.start("admin", sshArgs("ops", adminKey.path, ["-t"]), 80, 24);
    await tmux.waitScreen("admin", "overview", (s) => s.includes("[1 Overview]") && s.includes("VI_web"));
    const overview = tmux.screen("admin");
    expect(overview[0]).toContain("lb1.example");
    expect(overview.join("\n")).toMatch(/VI_web\s+eth0\s+51 MASTER\s+150\s+192\.0\.2\.2/);
    expect(overview[1]).toContain("ops@ssh:127.0.0.1 (admin)");

    tmux.keys("admin", "2");
    await tmux.waitScreen(
      "admin",
      "services",
      (s) => s.includes("[2 Services]") && s.includes("Prot LocalAddress:Port"),
    );
    tmux.keys("admin", "Down", "d");
    await waitFor("drain to reach the handler", () => box.performed.some((p) => p.action.kind === "drain"));
    const drain = box.performed.find((p) => p.action.kind === "drain")!;
    expect(drain.action).toEqual({ kind: "drain", service: "web", real: "10.0.0.3:80" });
    expect(drain.actor.who).toBe("ops@ssh:127.0.0.1");
    const after = await tmux.waitScreen("admin", "drain result", (s) =>
      s.includes("OK: drain web 10.0.0.3:80"),
    );
    expect(after).toMatch(/> -> 10\.0\.0\.3:80\s+Route\s+0\s+3\s+12\s+drain/);

    tmux.resize("admin", 100, 30);
    const wide = await tmux.waitScreen(
      "admin",
      "redraw at 100x30",
      (s) => (s.split("\n")[0] ?? "").trimEnd().length === 100,
    );
    expect(wide.split("\n")).toHaveLength(30);
    expect(wide.split("\n")[2]).toBe("-".repeat(100));

    tmux.keys("admin", "q");
    expect(await tmux.waitExit("admin")).toBe(0);
  }, 30_000);

  test("viewer: sees everything, changes nothing", async () => {
    tmux.start("viewer", sshArgs("watch", viewerKey.path, ["-t"]), 80, 24);
    await tmux.waitScreen("viewer", "overview", (s) => s.includes("(viewer)"));
    const before = box.performed.length;
    tmux.keys("viewer", "2", "d");
    await tmux.waitScreen("viewer", "refusal", (s) => s.includes("'drain' needs the admin role"));
    tmux.keys("viewer", "R");
    await tmux.waitScreen("viewer", "refusal", (s) => s.includes("'reload' needs the admin role"));
    expect(box.performed.length).toBe(before);
    tmux.keys("viewer", "q");
    expect(await tmux.waitExit("viewer")).toBe(0);
  }, 30_000);

  test("reload over the TUI shows the diff, then applies on y", async () => {
    tmux.start("reload", sshArgs("ops", adminKey.path, ["-t"]), 80, 24);
    await tmux.waitScreen("reload", "overview", (s) => s.includes("[1 Overview]"));
    const before = box.performed.length;
    tmux.keys("reload", "R");
    await tmux.waitScreen(
      "reload",
      "diff",
      (s) => s.includes("~ web: scheduler wlc -> wrr") && s.includes("[y]es / [n]o"),
    );
    expect(box.performed.slice(before).map((p) => p.action)).toEqual([{ kind: "reload", confirm: false }]);
    tmux.keys("reload", "y");
    await tmux.waitScreen("reload", "applied", (s) => s.includes("OK: reload: config reloaded"));
    expect(box.performed.slice(before).map((p) => p.action)).toEqual([
      { kind: "reload", confirm: false },
      { kind: "reload", confirm: true },
    ]);
    const logged = mem
      .lines()
      .filter((l) => l["event"] === "console.action" && l["who"] === "ops@ssh:127.0.0.1");
    expect(logged.some((l) => (l["action"] as { confirm?: boolean }).confirm === true)).toBe(true);
    tmux.keys("reload", "q");
    expect(await tmux.waitExit("reload")).toBe(0);
  }, 30_000);
});

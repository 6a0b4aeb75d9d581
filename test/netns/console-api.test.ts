// The management API on loopback: token auth (and mutual TLS with curl as the client), roles, JSON
// errors, actions reaching the handler with the caller's identity, and /metrics parsed by promtool.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiServerHandle, startApiServer } from "../../src/console/api/server.ts";
import { FakeBox, memoryLogger } from "../unit/console-fixtures.ts";

const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const VIEWER_TOKEN = "viewer-token-0123456789abcdef";
const box = new FakeBox();
const mem = memoryLogger();
let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer({
    listen: "127.0.0.1",
    port: 0,
    tokens: [
      { name: "ops", token: ADMIN_TOKEN, role: "admin" },
      { name: "grafana", token: VIEWER_TOKEN, role: "viewer" },
    ],
    snapshot: box.snapshot,
    actions: box,
    log: mem.log,
  });
});

afterAll(async () => {
  await api?.close();
});

function call(path: string, token: string | null, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return fetch(`${api.url}${path}`, { ...init, headers });
}

function post(path: string, token: string | null, body: unknown) {
  return call(path, token, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("authentication", () => {
  test("no token, a wrong token and a malformed header get 401 with a JSON error", async () => {
    for (const res of [
      await call("/api/v1/status", null),
      await call("/api/v1/status", "wrong-token-0123456789abcdef"),
      await call("/api/v1/status", null, { headers: { Authorization: "Basic b3BzOnB3" } }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
      expect(await res.json()).toEqual({
        error: { code: "unauthorized", message: "a valid bearer token is required" },
      });
    }
  });

  test("tokens shorter than 16 characters are refused at start", async () => {
    await expect(
      startApiServer({
        listen: "127.0.0.1",
        port: 0,
        tokens: [{ name: "x", token: "short", role: "admin" }],
        snapshot: box.snapshot,
        actions: box,
        log: mem.log,
      }),
    ).rejects.toThrow("shorter than 16");
  });
});

describe("reads", () => {
  test("status, vrrp, services, one service, one real server, events, update", async () => {
    expect(await (await call("/api/v1/status", VIEWER_TOKEN)).json()).toMatchObject({
      hostname: "lb1.example",
      bootSlot: "a",
    });
    const vrrp = (await (await call("/api/v1/vrrp", VIEWER_TOKEN)).json()) as {
      name: string;
      state: string;
    }[];
    expect(vrrp.map((v) => [v.name, v.state])).toEqual([
      ["VI_web", "MASTER"],
      ["VI_db", "BACKUP"],
    ]);
    const services = (await (await call("/api/v1/services", VIEWER_TOKEN)).json()) as { name: string }[];
    expect(services.map((s) => s.name)).toEqual(["web", "dns"]);
    const web = (await (await call("/api/v1/services/web", VIEWER_TOKEN)).json()) as {
      realServers: { checks: unknown[] }[];
    };
    expect(web.realServers).toHaveLength(3);
    expect(web.realServers[0]!.checks).toHaveLength(2);
    const real = (await (
      await call(`/api/v1/services/web/reals/${encodeURIComponent("10.0.0.4:80")}`, VIEWER_TOKEN)
    ).json()) as {
      realServers: { checks: { reason: string; latencyMs: number }[] }[];
    };
    expect(real.realServers[0]!.checks[0]).toMatchObject({
      reason: "connect timeout after 3000 ms",
      latencyMs: 3000,
    });
    const events = (await (await call("/api/v1/events?limit=2", VIEWER_TOKEN)).json()) as {
      reason: string;
    }[];
    expect(events.map((e) => e.reason)).toEqual(["event number 29", "event number 30"]);
    expect((await call("/api/v1/events?limit=abc", VIEWER_TOKEN)).status).toBe(400);
    const log = (await (await call("/api/v1/log?limit=1", VIEWER_TOKEN)).json()) as {
      level: string;
      msg: string;
    }[];
    expect(log).toEqual([
      { at: "2026-11-23T11:59:58.000Z", level: "warn", msg: "health.down: 10.0.0.4:80 connect timeout" },
    ] as never);
    expect(await (await call("/api/v1/update", VIEWER_TOKEN)).json()).toMatchObject({
      bootSlot: "a",
      state: "idle",
    });
  });

  test("unknown names and routes are 404, wrong methods 405, all as JSON", async () => {
    const missing = await call("/api/v1/services/nosuch", VIEWER_TOKEN);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
    expect((await call("/api/v2/anything", VIEWER_TOKEN)).status).toBe(404);
    const wrong = await call("/api/v1/services", VIEWER_TOKEN, { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
  });
});

describe("actions", () => {
  test("an admin's drain (given as VIP:PORT and bare address) reaches the handler as canonical names", async () => {
    const res = await post("/api/v1/actions", ADMIN_TOKEN, {
      kind: "drain",
      service: "192.0.2.10:80",
      real: "10.0.0.2",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      action: { kind: "drain", service: "web", real: "10.0.0.2:80" },
    });
    expect(box.performed.at(-1)).toEqual({
      actor: { who: "api:ops@127.0.0.1", role: "admin" },
      action: { kind: "drain", service: "web", real: "10.0.0.2:80" },
    });
    const logged = mem
      .lines()
      .filter((l) => l["event"] === "console.action" && l["who"] === "api:ops@127.0.0.1");
    expect(logged).toHaveLength(1);
  });

  test("an update artifact is streamed to the handler as the body of POST /api/v1/update/upload", async () => {
    const body = new Uint8Array(3 * 1024 * 1024 + 5).fill(7); // far over the 64 KiB limit of JSON bodies
    const res = await call("/api/v1/update/upload?force=true", ADMIN_TOKEN, { method: "POST", body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, message: `received ${body.length} bytes` });
    expect(box.uploads.at(-1)).toEqual({
      who: expect.stringMatching(/^api:ops@/),
      bytes: body.length,
      force: true,
    });
    const viewer = await call("/api/v1/update/upload", VIEWER_TOKEN, { method: "POST", body: "x" });
    expect(viewer.status).toBe(403);
    expect((await call("/api/v1/update/upload", null, { method: "POST", body: "x" })).status).toBe(401);
  });

  test("a viewer gets 403 and nothing is performed", async () => {
    const before = box.performed.length;
    const res = await post("/api/v1/actions", VIEWER_TOKEN, { kind: "failover", instance: "VI_web" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    expect(box.performed.length).toBe(before);
  });

  test("bad bodies: not JSON, bad fields, unknown names, too large", async () => {
    expect((await post("/api/v1/actions", ADMIN_TOKEN, "{not json")).status).toBe(400);
    const bad = await post("/api/v1/actions", ADMIN_TOKEN, {
      kind: "weight",
      service: "web",
      real: "10.0.0.2:80",
      weight: 1e9,
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: { code: "bad_action", message: "'weight' must be an integer from 0 to 65535" },
    });
    expect(
      (await post("/api/v1/actions", ADMIN_TOKEN, { kind: "failback", instance: "VI_nope" })).status,
    ).toBe(404);
    expect(
      (await post("/api/v1/actions", ADMIN_TOKEN, { kind: "reboot", pad: "x".repeat(70_000) })).status,
    ).toBe(413);
  });

  test("reload dry run returns the diff; a failed action is 409", async () => {
    const dry = await post("/api/v1/actions", ADMIN_TOKEN, { kind: "reload", confirm: false });
    expect(await dry.json()).toMatchObject({ ok: true, diff: box.reloadDiff });
    const failing = new FakeBox();
    failing.perform = async () => ({ ok: false, message: "kernel said no" });
    const other = await startApiServer({
      listen: "127.0.0.1",
      port: 0,
      tokens: [{ name: "ops", token: ADMIN_TOKEN, role: "admin" }],
      snapshot: failing.snapshot,
      actions: failing,
      log: mem.log,
    });
    try {
      const res = await fetch(`${other.url}/api/v1/actions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ kind: "reboot" }),
      });
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ ok: false, message: "kernel said no" });
    } finally {
      await other.close();
    }
  });
});

describe("/metrics", () => {
  test("is served without a token and passes promtool", async () => {
    const res = await fetch(`${api.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("version=0.0.4");
    const text = await res.text();
    const check = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text) });
    expect(check.exitCode).toBe(0);
    expect(text).toMatch(
      /^fulcrum_vrrp_state\{instance="VI_web",interface="eth0",vrid="51",state="MASTER"\} 1$/m,
    );
  });
});

describe("mutual TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "fco-api-tls-"));
  let tlsApi: ApiServerHandle;

  function openssl(args: string[]): void {
    const p = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${p.stderr.toString()}`);
  }

  function issue(name: string, ca: string, san: string | null): void {
    openssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ]);
    const ext = san ? ["-extfile", `${name}.ext`] : [];
    if (san) Bun.spawnSync(["sh", "-c", `printf 'subjectAltName=${san}\\n' > ${name}.ext`], { cwd: dir });
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.crt`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.crt`,
      ...ext,
    ]);
  }

  beforeAll(async () => {
    for (const ca of ["ca", "rogue-ca"]) {
      openssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${ca}.key`,
        "-out",
        `${ca}.crt`,
        "-days",
        "2",
        "-subj",
        `/CN=${ca}`,
      ]);
    }
    issue("server", "ca", "IP:127.0.0.1");
    issue("client", "ca", null);
    issue("rogue", "rogue-ca", null);
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    tlsApi = await startApiServer({
      listen: "127.0.0.1",
      port: 0,
      tokens: [{ name: "ops", token: ADMIN_TOKEN, role: "admin" }],
      snapshot: box.snapshot,
      actions: box,
      log: mem.log,
      tls: {
        cert: read("server.crt"),
        key: read("server.key"),
        clientCa: read("ca.crt"),
        clientCertRole: "viewer",
      },
    });
  });

  afterAll(async () => {
    await tlsApi?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Async: the server runs in this process, so a blocking spawnSync would deadlock it.
  async function curl(args: string[]): Promise<{ code: number; out: string }> {
    const p = Bun.spawn(["curl", "-sS", "--max-time", "10", "--cacert", join(dir, "ca.crt"), ...args], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    return { code, out: out + err };
  }

  test("a client certificate from the configured CA authenticates as its role", async () => {
    const r = await curl([
      "--cert",
      join(dir, "client.crt"),
      "--key",
      join(dir, "client.key"),
      `${tlsApi.url}/api/v1/status`,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ hostname: "lb1.example" });
    const action = await curl([
      "--cert",
      join(dir, "client.crt"),
      "--key",
      join(dir, "client.key"),
      "-w",
      "%{http_code}",
      "-o",
      "/dev/null",
      "-X",
      "POST",
      "-d",
      '{"kind":"reboot"}',
      `${tlsApi.url}/api/v1/actions`,
    ]);
    expect(action.out).toBe("403");
  });

  test("no certificate, or one from another CA, fails the TLS handshake", async () => {
    expect((await curl([`${tlsApi.url}/api/v1/status`])).code).not.toBe(0);
    const rogue = await curl([
      "--cert",
      join(dir, "rogue.crt"),
      "--key",
      join(dir, "rogue.key"),
      `${tlsApi.url}/api/v1/status`,
    ]);
    expect(rogue.code).not.toBe(0);
  });

  test("a bearer token on top of the certificate sets the role", async () => {
    const before = box.performed.length;
    const r = await curl([
      "--cert",
      join(dir, "client.crt"),
      "--key",
      join(dir, "client.key"),
      "-H",
      `Authorization: Bearer ${ADMIN_TOKEN}`,
      "-X",
      "POST",
      "-d",
      '{"kind":"failback","instance":"VI_web"}',
      `${tlsApi.url}/api/v1/actions`,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true });
    expect(box.performed.length).toBe(before + 1);
  });
});

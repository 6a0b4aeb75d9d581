// Console benchmark. Prints:
//  1. `ssh box show services` against fulcrum's SSH server (ssh2, pure JS) versus the incumbent,
//     OpenSSH's sshd running `cat` of the same ipvsadm -Ln text: new connection per command, as scripts do.
//  2. TUI frame cost: render() time, and bytes sent per refresh (row diff) versus a full repaint, which is
//     what a 115200-baud serial console pays.
//  3. /metrics: render time and size for a large box.
// Run: bun bench/console-ssh.ts [ROUNDS]   (root, needs /usr/sbin/sshd from openssh-server)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ipvsadmTable } from "../src/console/ipvsadm.ts";
import { renderMetrics } from "../src/console/metrics.ts";
import { startSshServer } from "../src/console/ssh/server.ts";
import { initialUi, reduce } from "../src/console/tui/model.ts";
import { Painter } from "../src/console/tui/painter.ts";
import { render } from "../src/console/tui/render.ts";
import type { ActionHandler } from "../src/state/actions.ts";
import type { BoxSnapshot, RealServerSnapshot } from "../src/state/snapshot.ts";

const ROUNDS = Math.min(200, Math.max(3, Number(process.argv[2] ?? 20)));

function bigBox(services: number, realsPer: number, tick = 0): BoxSnapshot {
  const now = Date.UTC(2026, 10, 23, 12, 0, 0);
  const real = (s: number, r: number): RealServerSnapshot => ({
    address: `10.${s >> 8}.${s & 255}.${r + 2}`,
    port: 80,
    method: "dr",
    configuredWeight: 5,
    weight: 5,
    health: "up",
    draining: false,
    // Only the first real server's counter moves from one frame to the next (plus the clock).
    activeConns: 10 + r + (s === 0 && r === 0 ? tick : 0),
    inactiveConns: 100 + r,
    cps: 3,
    inPps: 40,
    outPps: 0,
    inBps: 5000,
    outBps: 0,
    conns: 123_456,
    inBytes: 9_876_543,
    outBytes: 0,
    checks: Array.from({ length: 10 }, (_, i) => ({
      atMs: now - i * 1000,
      ok: true,
      latencyMs: 1.2,
      reason: "HTTP 200",
    })),
  });
  return {
    hostname: "bench",
    version: "0.1.0",
    build: "bench",
    startedAtMs: now - 3_600_000,
    nowMs: now + tick * 1000,
    vrrp: [
      {
        name: "VI_1",
        interface: "eth0",
        vrid: 51,
        state: "MASTER",
        priority: 150,
        effectivePriority: 150,
        masterAddress: "192.0.2.2",
        vips: ["192.0.2.10/32"],
        transitions: 1,
        lastReason: "",
      },
    ],
    services: Array.from({ length: services }, (_, s) => ({
      name: `svc${s}`,
      label: `TCP  192.0.2.${(s % 250) + 1}:${8000 + s}`,
      scheduler: "wlc",
      persistenceTimeout: 0,
      quorumUp: true,
      realServers: Array.from({ length: realsPer }, (_, r) => real(s, r)),
    })),
    events: [],
    update: { bootSlot: "a", state: "idle", progress: null, lastResult: "" },
  };
}

function stats(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  return `p50 ${at(0.5).toFixed(1)} ms  p95 ${at(0.95).toFixed(1)} ms  mean ${mean.toFixed(1)} ms`;
}

function median(ms: number[]): number {
  return [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
}

async function timeSsh(args: string[]): Promise<{ ms: number; out: string }> {
  const t0 = performance.now();
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`${args.join(" ")} failed (${code}): ${err}`);
  return { ms: performance.now() - t0, out };
}

async function sshBench(dir: string): Promise<void> {
  const snapshot = bigBox(10, 4);
  const table = `${ipvsadmTable(snapshot.services, "conns", false).join("\n")}\n`;
  const key = join(dir, "id");
  Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
  const pub = readFileSync(`${key}.pub`, "utf8").trim();
  const actions: ActionHandler = { perform: async () => ({ ok: true, message: "ok" }) };
  const ours = await startSshServer({
    listen: "127.0.0.1",
    port: 0,
    hostKeyDir: join(dir, "fulcrum"),
    users: [{ name: "root", role: "admin", keys: [pub] }],
    snapshot: () => snapshot,
    actions,
    log: pino({ level: "silent" }),
  });

  // The incumbent: OpenSSH's sshd on loopback, serving the same text with cat.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "sshd_host")]);
  writeFileSync(join(dir, "authorized_keys"), `${pub}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "ipvsadm.txt"), table);
  const sshdPort = 20_000 + (process.pid % 20_000);
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${sshdPort}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "sshd_host")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      `PidFile ${join(dir, "sshd.pid")}`,
    ].join("\n"),
  );
  const sshd = Bun.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", join(dir, "sshd_config")], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const base = (port: number) => [
    "ssh",
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    `UserKnownHostsFile=/dev/null`,
    "-o",
    "LogLevel=ERROR",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-i",
    key,
    "-p",
    String(port),
    "root@127.0.0.1",
  ];
  try {
    // Wait for sshd to accept (bounded).
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await timeSsh([...base(sshdPort), "true"]);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await Bun.sleep(100);
      }
    }
    const oursMs: number[] = [];
    const sshdMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const a = await timeSsh([...base(ours.port), "show services"]);
      const b = await timeSsh([...base(sshdPort), `cat ${join(dir, "ipvsadm.txt")}`]);
      if (i === 0 && (!a.out.startsWith("Prot LocalAddress:Port") || b.out !== table))
        throw new Error("unexpected output");
      oursMs.push(a.ms);
      sshdMs.push(b.ms);
    }
    console.log(
      `ssh exec, new connection per command, ${ROUNDS} rounds (${table.split("\n").length - 1} table lines):`,
    );
    console.log(`  fulcrum ssh2 'show services'   ${stats(oursMs)}`);
    console.log(`  OpenSSH sshd 'cat ipvsadm.txt' ${stats(sshdMs)}`);
    console.log(`  ratio fulcrum/sshd (p50)       ${(median(oursMs) / median(sshdMs)).toFixed(2)}x`);
  } finally {
    sshd.kill();
    await sshd.exited;
    await ours.close();
  }
}

function tuiBench(): void {
  const rounds = 2000;
  const ui = reduce(initialUi("admin", "bench", true), { kind: "key", key: "2" }, bigBox(50, 10), 24).ui;
  const frames = Array.from({ length: 4 }, (_, tick) => bigBox(50, 10, tick));
  let t0 = performance.now();
  for (let i = 0; i < rounds; i++) render(frames[i % 4]!, ui, 80, 24);
  const renderUs = ((performance.now() - t0) * 1000) / rounds;
  const painter = new Painter();
  const full = painter.paint(render(frames[0]!, ui, 80, 24), 80, 24, true).length;
  let diffBytes = 0;
  t0 = performance.now();
  for (let i = 1; i <= 100; i++)
    diffBytes += painter.paint(render(frames[i % 4]!, ui, 80, 24), 80, 24).length;
  const diff = diffBytes / 100;
  const baud = 115_200 / 10; // bytes per second on an 8N1 line
  console.log(`TUI services screen, 50 services x 10 reals, 80x24:`);
  console.log(`  render()                       ${renderUs.toFixed(0)} us per frame`);
  console.log(
    `  full repaint                   ${full} bytes = ${((full / baud) * 1000).toFixed(0)} ms at 115200 baud`,
  );
  console.log(
    `  refresh, one counter changed   ${diff.toFixed(0)} bytes = ${((diff / baud) * 1000).toFixed(0)} ms at 115200 baud (${(full / diff).toFixed(1)}x fewer)`,
  );
}

function metricsBench(): void {
  const box = bigBox(200, 10);
  const rounds = 50;
  const t0 = performance.now();
  let size = 0;
  for (let i = 0; i < rounds; i++) size = renderMetrics(box).length;
  const ms = (performance.now() - t0) / rounds;
  console.log(
    `/metrics, 200 services x 10 reals: ${ms.toFixed(1)} ms per scrape, ${(size / 1024).toFixed(0)} KiB`,
  );
}

const dir = mkdtempSync(join(tmpdir(), "fco-bench-"));
try {
  tuiBench();
  metricsBench();
  await sshBench(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

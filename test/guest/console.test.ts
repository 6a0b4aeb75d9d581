// The operator console on a booted lab guest, judged by readers we did not write: the serial port (QEMU's
// chardev socket) is driven through socat in tmux, SSH with the real OpenSSH client from the lab's client
// namespace, /metrics with promtool, and every change is read back from the kernel with ipvsadm or ip
// (debug shell) and from keepalived, the VRRP peer in the client namespace. One guest for everything.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, sweepLab } from "../../qemu/lab.ts";
import { formatConfigError, loadConfigFile } from "../../src/config/load.ts";
import { SERIAL_PROMPT } from "../../src/console/serial.ts";
import { VERSION } from "../../src/version.ts";
import { waitInGuest } from "../helpers/guest-files.ts";
import { keepalivedArgv } from "../helpers/keepalived.ts";
import { GUEST_SETUP_TIMEOUT_MS, guestTestsEnabled, labImage } from "../helpers/qemu.ts";
import { Tmux } from "../netns/console-tmux.ts";
import { waitFor } from "../unit/console-fixtures.ts";

const PREFIX = "flab-con-";
const BOX = "10.0.1.2";
const VIP = "10.0.1.100";
const TOKEN = "con-admin-token-0123456789";
const TEST_TIMEOUT_MS = 120_000;
const REALS = ["10.0.1.11", "10.0.1.12"];

const dir = mkdtempSync(join(tmpdir(), "fco-guest-"));
const key = (name: string) => join(dir, name);
const tmux = new Tmux("guest-con");
let lab: Lab | undefined;
let keepalived: ReturnType<typeof Bun.spawn> | undefined;

function makeKey(name: string): string {
  const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key(name)]);
  if (p.exitCode !== 0) throw new Error(`ssh-keygen: ${p.stderr.toString()}`);
  return readFileSync(`${key(name)}.pub`, "utf8").trim();
}

function configToml(adminKey: string, viewerKey: string): string {
  return `[system]
hostname = "lb-con"
console = "ttyS0"

[system.ssh]
listen = "0.0.0.0"
port = 22

[[system.ssh.users]]
name = "admin"
role = "admin"
authorized_keys = ["${adminKey}"]

[[system.ssh.users]]
name = "viewer"
role = "viewer"
authorized_keys = ["${viewerKey}"]

[system.api]
enabled = true
listen = "0.0.0.0"
port = 8080
token = "${TOKEN}"

[interfaces.eth0]
addresses = ["${BOX}/24"]
arp_role = "director"

[interfaces.eth1]
addresses = ["10.0.9.11/24"]

[vrrp.instances.VI_CON]
interface = "eth0"
virtual_router_id = 61
priority = 150
advert_int = 1
state = "MASTER"
virtual_ipaddress = ["${VIP}/24"]

[services.web]
vip = "${VIP}"
port = 80
scheduler = "wlc"
method = "dr"
vrrp_instance = "VI_CON"
check = { type = "http", path = "/", interval = 3, timeout = 3, rise = 1, fall = 3 }
${REALS.map((a) => `[[services.web.real]]\naddress = "${a}"\nweight = 5\n`).join("\n")}`;
}

/** keepalived as the VRRP peer (backup at 100) in the client namespace. */
function keepalivedConfig(): string {
  return `global_defs {
  router_id con_peer
}
vrrp_instance VI_CON {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 100
  advert_int 1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

const shell = () => lab!.guest("a").shell;
/**
 * The port as the operator's terminal shows it. (QEMU's serial logfile can repeat bytes when the
 * connected client pushes back, so what a test reads after socat is connected comes from tmux.)
 */
const prompts = () => tmux.text("serial").split(SERIAL_PROMPT).length - 1;
const serial = () => lab!.guest("a").serial;

/** Runs argv in the client namespace. */
function inClient(argv: readonly string[], timeoutMs = 60_000) {
  return lab!.network.exec(lab!.network.clientNs, argv, timeoutMs);
}

const SSH_OPTS = [
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  "-o",
  "BatchMode=yes",
  "-o",
  "ConnectTimeout=30",
];
const ssh = (who: string, keyName: string, ...command: string[]) =>
  inClient(["ssh", ...SSH_OPTS, "-i", key(keyName), "-o", "IdentitiesOnly=yes", `${who}@${BOX}`, ...command]);

/** The real servers of the web service as the kernel has them: address -> {forward, weight}. */
async function kernelReals(): Promise<Map<string, { forward: string; weight: number }>> {
  const out = await shell().check(`ipvsadm -Ln -t ${VIP}:80`);
  const reals = new Map<string, { forward: string; weight: number }>();
  for (const m of out.matchAll(/->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+(\w+)\s+(\d+)/g)) {
    reals.set(m[1]!, { forward: m[2]!, weight: Number(m[3]) });
  }
  return reals;
}

const kernelWeight = (real: string, weight: number) =>
  waitInGuest(
    shell(),
    `ipvsadm -Ln -t ${VIP}:80`,
    (o) => new RegExp(`${real}:80\\s+Route\\s+${weight}\\s`).test(o),
    30_000,
  );

/**
 * A drained real server: weight 0, or already gone from the table (with no connections left the drain
 * finishes at once and fulcrum removes it), while the service itself stays.
 */
const kernelDrained = (real: string) =>
  waitInGuest(
    shell(),
    `ipvsadm -Ln -t ${VIP}:80`,
    (o) =>
      new RegExp(`${real}:80\\s+Route\\s+0\\s`).test(o) ||
      (o.includes(`TCP  ${VIP}:80`) && !o.includes(`${real}:80`)),
    30_000,
  );

const vipOnBox = async () =>
  (await shell().run(`ip -color=never -4 -o addr show dev eth0`)).output.includes(`${VIP}/24`);

describe.skipIf(!guestTestsEnabled)("the console on a booted guest", () => {
  beforeAll(async () => {
    await sweepLab(PREFIX);
    const configPath = key("con-a.toml");
    writeFileSync(configPath, configToml(makeKey("admin"), makeKey("viewer")));
    // A config the box would refuse boots the safe default instead: fail here, with the reasons.
    const loaded = await loadConfigFile(configPath);
    if (!loaded.ok)
      throw new Error(`test config does not load: ${loaded.errors.map(formatConfigError).join("\n")}`);
    makeKey("stranger");
    writeFileSync(key("keepalived.conf"), keepalivedConfig());
    const image = await labImage();
    lab = await Lab.start({
      prefix: PREFIX,
      image,
      boot: "direct",
      guests: [{ id: "a", config: configPath, front: `${BOX}/24`, mgmt: "10.0.9.11/24" }],
      realServers: REALS.map((a, i) => ({
        name: `rs${i + 1}`,
        address: `${a}/24`,
        method: "dr" as const,
        vip: VIP,
      })),
      client: { address: "10.0.1.50/24" },
      log: (l) => process.stderr.write(`  ${l}\n`),
    });
    keepalived = Bun.spawn(
      ["ip", "netns", "exec", lab.network.clientNs, ...keepalivedArgv(key("keepalived.conf"), key("ka"))],
      { stdout: Bun.file(key("ka.log")), stderr: Bun.file(key("ka.err")) },
    );
    // The box is ready for these tests once IPVS is programmed and VRRP is master with both reals up.
    await waitInGuest(
      shell(),
      `ipvsadm -Ln -t ${VIP}:80`,
      (o) => /10\.0\.1\.12:80\s+Route\s+5/.test(o),
      60_000,
    );
    await waitFor("VIP on the box", vipOnBox, 60_000, 500);
    tmux.start("serial", [
      "socat",
      "-,raw,echo=0",
      `UNIX-CONNECT:${join(lab.guest("a").options.workDir, "serial.sock")}`,
    ]);
  }, GUEST_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    tmux.kill();
    keepalived?.kill("SIGTERM");
    await keepalived?.exited;
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  describe("serial console (ttyS0)", () => {
    test(
      "boot lines, then the prompt after fulcrum ready",
      async () => {
        const text = serial().text();
        const ready = text.indexOf("fulcrum ready");
        expect(ready).toBeGreaterThan(0);
        expect(text.indexOf("system.boot")).toBeLessThan(ready); // boot lines were printed as before
        await serial().waitFor(SERIAL_PROMPT, 30_000, ready);
        expect(serial().text().slice(ready)).toContain(`fulcrum lb-con ready: ${SERIAL_PROMPT}`);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "line noise in prompt mode neither opens the TUI nor upsets the box",
      async () => {
        const before = prompts();
        tmux.bytes(
          "serial",
          new Uint8Array([0x00, 0xff, 0x1b, 0x5b, 0x39, 0x39, 0x3b, 0x07, 0x1b, 0x1b, 0x4f]),
        );
        tmux.type("serial", "garbage");
        // A stray key shows the prompt again (and opens nothing).
        await waitFor("the prompt again", () => prompts() > before, 30_000, 200);
        expect(tmux.text("serial")).not.toContain("[1 Overview]");
        expect(await shell().check("echo alive")).toContain("alive");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "Enter opens the TUI; the overview shows the box and its VRRP state",
      async () => {
        tmux.keys("serial", "Enter");
        const s = await tmux.waitScreen(
          "serial",
          "overview",
          (t) => t.includes("[1 Overview]") && /VI_CON\s+eth0\s+61 MASTER\s+150/.test(t),
          60_000,
        );
        expect(s.split("\n")[0]).toMatch(/^fulcrum {2}lb-con\s/);
        expect(s).toContain("console:ttyS0 (admin)");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "the services screen shows what ipvsadm -Ln shows",
      async () => {
        tmux.keys("serial", "2");
        const kernel = await kernelReals();
        expect([...kernel.keys()].sort()).toEqual(REALS.map((a) => `${a}:80`));
        // The screen follows the kernel's table (read every second): wait until every row agrees.
        const rows = [...kernel].map(
          ([real, k]) =>
            new RegExp(
              `-> ${real.replaceAll(".", "\\.")}\\s+${k.forward}\\s+${k.weight}\\s+\\d+\\s+\\d+\\s+up`,
            ),
        );
        await tmux.waitScreen(
          "serial",
          "services as the kernel has them",
          (t) => t.includes(`TCP  ${VIP}:80 wlc`) && rows.every((re) => re.test(t)),
          30_000,
        );
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "drain, weight and enable from the serial TUI change the kernel; log lines are held meanwhile",
      async () => {
        const from = serial().text().length;
        // The selection starts on the first real server (10.0.1.11).
        tmux.keys("serial", "d");
        await kernelDrained("10.0.1.11");
        await tmux.waitScreen(
          "serial",
          "drain shown",
          (t) =>
            t.includes("OK: drain web 10.0.1.11:80") &&
            /10\.0\.1\.11:80\s+Route\s+0\s+\d+\s+\d+\s+drain\s/.test(t),
          30_000,
        );
        tmux.keys("serial", "e");
        await kernelWeight("10.0.1.11", 5);
        tmux.keys("serial", "w");
        await tmux.waitScreen(
          "serial",
          "weight prompt",
          (t) => t.includes("Weight for 10.0.1.11:80 in web"),
          30_000,
        );
        tmux.keys("serial", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace");
        tmux.type("serial", "7");
        tmux.keys("serial", "Enter");
        await kernelWeight("10.0.1.11", 7);
        await tmux.waitScreen(
          "serial",
          "weight shown",
          (t) => /> -> 10\.0\.1\.11:80\s+Route\s+7\s/.test(t),
          30_000,
        );
        tmux.keys("serial", "w", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace");
        tmux.type("serial", "5");
        tmux.keys("serial", "Enter");
        await kernelWeight("10.0.1.11", 5);
        // The actions were logged (console.action), but not printed over the TUI.
        const during = serial().text().slice(from);
        expect(during).not.toContain('"event":"console.action"');
        expect(during).not.toContain('"event":"operator.action"');
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "failover from the serial TUI hands the VIP to keepalived; take back returns it",
      async () => {
        tmux.keys("serial", "1");
        await tmux.waitScreen("serial", "overview", (t) => t.includes("[1 Overview]"), 30_000);
        tmux.keys("serial", "f");
        await tmux.waitScreen(
          "serial",
          "priority prompt",
          (t) => t.includes("Fail over VI_CON: drop priority to"),
          30_000,
        );
        tmux.keys("serial", "Enter"); // the default, 0: give up mastership now
        await tmux.waitScreen("serial", "confirmation", (t) => t.includes("[y]es / [n]o"), 30_000);
        tmux.keys("serial", "y");
        await tmux.waitScreen("serial", "BACKUP shown", (t) => /VI_CON\s+eth0\s+61 BACKUP/.test(t), 30_000);
        await waitFor("VIP gone from the box", async () => !(await vipOnBox()), 30_000, 500);
        await waitFor(
          "VIP on keepalived",
          async () =>
            (await inClient(["ip", "-color=never", "-4", "-o", "addr"])).stdout.includes(`${VIP}/24`),
          30_000,
          500,
        );
        tmux.keys("serial", "t");
        await tmux.waitScreen(
          "serial",
          "take back confirmation",
          (t) => t.includes("Take back VI_CON?"),
          30_000,
        );
        tmux.keys("serial", "y");
        await tmux.waitScreen(
          "serial",
          "MASTER again",
          (t) => /VI_CON\s+eth0\s+61 MASTER\s+150/.test(t),
          30_000,
        );
        await waitFor("VIP back on the box", vipOnBox, 30_000, 500);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "q returns to the prompt and says how many log lines were held",
      async () => {
        tmux.keys("serial", "q");
        const text = await waitFor(
          "the held-lines note and the prompt",
          () => {
            const t = tmux.text("serial").trimEnd();
            return t.includes("were held back") && t.endsWith(SERIAL_PROMPT) ? t : "";
          },
          30_000,
          200,
        );
        const held = Number(/\[(\d+) log line\(s\) were held back/.exec(text)?.[1]);
        expect(held).toBeGreaterThan(0); // at least the actions' log lines
        // Log lines flow again: the next action (over SSH) is printed on the port.
        expect((await ssh("admin", "admin", "weight", "web", "10.0.1.12", "5")).code).toBe(0);
        await waitFor(
          "the SSH action's log line on the port",
          () => /"event":"console\.action".*"who":"admin@ssh:/.test(tmux.text("serial")),
          30_000,
          200,
        );
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("SSH with the OpenSSH client", () => {
    test(
      "the TUI works through tmux",
      async () => {
        tmux.start("ssh", [
          "ip",
          "netns",
          "exec",
          lab!.network.clientNs,
          "ssh",
          "-tt",
          ...SSH_OPTS,
          "-i",
          key("admin"),
          `admin@${BOX}`,
        ]);
        const s = await tmux.waitScreen(
          "ssh",
          "overview over SSH",
          (t) => t.includes("[1 Overview]") && t.includes("VI_CON"),
          60_000,
        );
        expect(s).toMatch(/admin@ssh:10\.0\.1\.\S* \(admin\)/); // the address is cut to fit 80 columns
        tmux.keys("ssh", "2");
        await tmux.waitScreen(
          "ssh",
          "services over SSH",
          (t) => /10\.0\.1\.12:80\s+Route\s+5/.test(t),
          30_000,
        );
        tmux.keys("ssh", "q");
        expect(await tmux.waitExit("ssh", 30_000)).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a key not in the config is refused, and so is a password",
      async () => {
        const stranger = await ssh("admin", "stranger", "show", "status");
        expect(stranger.code).toBe(255);
        expect(stranger.stderr).toContain("Permission denied (publickey)");
        const password = await inClient([
          "ssh",
          ...SSH_OPTS,
          "-o",
          "PubkeyAuthentication=no",
          "-o",
          "PreferredAuthentications=password,keyboard-interactive",
          `admin@${BOX}`,
          "show",
          "status",
        ]);
        expect(password.code).toBe(255);
        // The server offers publickey only: the client has no method left to try.
        expect(password.stderr).toContain("Permission denied (publickey)");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a viewer may look but not drain",
      async () => {
        const shown = await ssh("viewer", "viewer", "show", "services");
        expect(shown.code).toBe(0);
        expect(shown.stdout).toContain(`TCP  ${VIP}:80 wlc`);
        const drain = await ssh("viewer", "viewer", "drain", "web", "10.0.1.11");
        expect(drain.code).toBe(3);
        expect((await kernelReals()).get("10.0.1.11:80")?.weight).toBe(5);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "show services --json matches ipvsadm -Ln",
      async () => {
        type Services = {
          name: string;
          label: string;
          scheduler: string;
          realServers: { address: string; port: number; forward: string; weight: number }[];
        }[];
        // A weight set through the CLI, so the JSON has something to follow.
        expect((await ssh("admin", "admin", "weight", "web", "10.0.1.12", "9")).code).toBe(0);
        await kernelWeight("10.0.1.12", 9);
        const kernel = await kernelReals();
        const weights = (web: Services[number] | undefined) =>
          new Map((web?.realServers ?? []).map((x) => [`${x.address}:${x.port}`, x.weight]));
        // The snapshot reads the kernel's table every second: poll until it has caught up.
        let web: Services[number] | undefined;
        await waitFor(
          "show services --json to follow the kernel",
          async () => {
            const r = await ssh("admin", "admin", "show", "services", "--json");
            expect(r.code).toBe(0);
            web = (JSON.parse(r.stdout) as Services).find((s) => s.name === "web");
            return weights(web).get("10.0.1.12:80") === 9;
          },
          30_000,
          500,
        );
        expect(web?.label.replace(/\s+/g, " ")).toBe(`TCP ${VIP}:80`);
        expect(web?.scheduler).toBe("wlc");
        const fromJson = new Map(web!.realServers.map((x) => [`${x.address}:${x.port}`, x]));
        expect([...fromJson.keys()].sort()).toEqual([...kernel.keys()].sort());
        for (const [real, k] of kernel) {
          expect(fromJson.get(real)?.weight).toBe(k.weight);
          expect(fromJson.get(real)?.forward).toBe(k.forward);
        }
        expect((await ssh("admin", "admin", "weight", "web", "10.0.1.12", "5")).code).toBe(0);
        await kernelWeight("10.0.1.12", 5);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "show vrrp --json matches the kernel's addresses",
      async () => {
        const r = await ssh("admin", "admin", "show", "vrrp", "--json");
        expect(r.code).toBe(0);
        const json = JSON.parse(r.stdout) as {
          name: string;
          state: string;
          priority: number;
          vips: string[];
        }[];
        const vi = json.find((i) => i.name === "VI_CON");
        expect(vi?.state).toBe("MASTER");
        expect(vi?.priority).toBe(150);
        expect(vi?.vips).toEqual([`${VIP}/24`]);
        expect(await vipOnBox()).toBe(true);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("management API and /metrics", () => {
    test(
      "an API drain reaches the kernel; an unauthenticated one is refused",
      async () => {
        const post = (token: string | null, body: unknown) =>
          inClient([
            "curl",
            "-s",
            "-o",
            "/dev/stderr",
            "-w",
            "%{http_code}",
            "-m",
            "30",
            ...(token ? ["-H", `Authorization: Bearer ${token}`] : []),
            "-H",
            "Content-Type: application/json",
            "-d",
            JSON.stringify(body),
            `http://${BOX}:8080/api/v1/actions`,
          ]);
        expect((await post(null, { kind: "drain", service: "web", real: "10.0.1.12:80" })).stdout).toBe(
          "401",
        );
        expect((await post(TOKEN, { kind: "drain", service: "web", real: "10.0.1.12:80" })).stdout).toBe(
          "200",
        );
        await kernelDrained("10.0.1.12");
        expect((await post(TOKEN, { kind: "enable", service: "web", real: "10.0.1.12:80" })).stdout).toBe(
          "200",
        );
        await kernelWeight("10.0.1.12", 5);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "/metrics passes promtool and carries VRRP, IPVS, checks, slot and version",
      async () => {
        // The weights were just restored to 5: scrape until the snapshot (read every second) shows it.
        const weightLine = (real: string) => `fulcrum_ipvs_real_weight{service="web",real="${real}:80"} 5`;
        let text = "";
        await waitFor(
          "/metrics to show the restored weights",
          async () => {
            const r = await inClient(["curl", "-sf", "-m", "30", `http://${BOX}:8080/metrics`]);
            expect(r.code).toBe(0);
            text = r.stdout;
            return REALS.every((real) => text.includes(weightLine(real)));
          },
          30_000,
          500,
        );
        const check = Bun.spawnSync(["promtool", "check", "metrics"], {
          stdin: new TextEncoder().encode(text),
        });
        expect(`${check.stdout}${check.stderr}`.trim()).toBe("");
        expect(check.exitCode).toBe(0);
        const value = (re: RegExp) => {
          const m = text.match(re);
          if (!m) throw new Error(`no ${re} in /metrics:\n${text.slice(0, 3000)}`);
          return Number(m[1]);
        };
        expect(value(/^fulcrum_vrrp_state\{[^}]*instance="VI_CON"[^}]*state="MASTER"[^}]*\} (\S+)$/m)).toBe(
          1,
        );
        // The failover and take-back above: at least MASTER -> BACKUP -> MASTER after the boot's transitions.
        expect(
          value(/^fulcrum_vrrp_transitions_total\{[^}]*instance="VI_CON"[^}]*\} (\S+)$/m),
        ).toBeGreaterThanOrEqual(3);
        expect(value(/^fulcrum_vrrp_effective_priority\{[^}]*instance="VI_CON"[^}]*\} (\S+)$/m)).toBe(150);
        const lastSuccess: number[] = [];
        for (const real of REALS) {
          const labels = `service="web",real="${real}:80"`;
          expect(value(new RegExp(`^fulcrum_ipvs_real_weight\\{${labels}\\} (\\S+)$`, "m"))).toBe(5);
          // The newest check's outcome (one may time out on a loaded host), when and how long it took.
          lastSuccess.push(value(new RegExp(`^fulcrum_check_last_success\\{${labels}\\} (\\S+)$`, "m")));
          const checkedAt = value(
            new RegExp(`^fulcrum_check_last_timestamp_seconds\\{${labels}\\} (\\S+)$`, "m"),
          );
          expect(Math.abs(Date.now() / 1000 - checkedAt)).toBeLessThan(120);
          expect(
            value(new RegExp(`^fulcrum_check_last_latency_seconds\\{${labels}\\} (\\S+)$`, "m")),
          ).toBeGreaterThan(0);
          value(new RegExp(`^fulcrum_ipvs_real_connections_per_second\\{${labels}\\} (\\S+)$`, "m"));
          value(new RegExp(`^fulcrum_ipvs_real_connections_total\\{${labels}\\} (\\S+)$`, "m"));
        }
        for (const v of lastSuccess) expect([0, 1]).toContain(v);
        expect(lastSuccess).toContain(1);
        value(/^fulcrum_ipvs_service_connections_total\{service="web"[^}]*\} (\S+)$/m);
        expect(value(/^fulcrum_boot_slot_info\{slot="[^"]+"\} (\S+)$/m)).toBe(1);
        expect(
          value(
            new RegExp(
              `^fulcrum_build_info\\{version="${VERSION.replaceAll(".", "\\.")}"[^}]*\\} (\\S+)$`,
              "m",
            ),
          ),
        ).toBe(1);
      },
      TEST_TIMEOUT_MS,
    );
  });
});

// `fulcrum run` end to end in a namespace: the whole daemon with a real config, read back with iproute2.
// IPVS is absent on the host kernel, so this also proves the box carries on without it (the guest tier
// covers IPVS itself).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNetns, isRoot, type TestNetns } from "../helpers/netns.ts";

const ROOT = join(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");

function config(priority: number): string {
  return `
[system]
hostname = "lb-test"
console = ""
[system.ssh]
enabled = false

[interfaces.fdm0]
addresses = ["10.77.0.2/24"]
arp_role = "director"

[vrrp.instances.VI_T]
interface = "fdm0"
virtual_router_id = 77
priority = ${priority}
advert_int = 0.1
virtual_ipaddress = ["10.77.0.100/24"]

[services.web]
vip = "10.77.0.100"
port = 80
method = "dr"
vrrp_instance = "VI_T"
[[services.web.real]]
address = "10.77.0.11"
`;
}

interface Event {
  event: string;
  [k: string]: unknown;
}

/** Collects the daemon's JSON log lines and lets a test wait for one with a deadline. */
class EventLog {
  readonly events: Event[] = [];
  private partial = "";
  async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.partial += decoder.decode(chunk);
      const lines = this.partial.split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) {
        try {
          const e = JSON.parse(line) as Event;
          if (typeof e.event === "string") this.events.push(e);
        } catch {
          // not a log line
        }
      }
    }
  }
  async waitFor(pred: (e: Event) => boolean, timeoutMs: number): Promise<Event> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (performance.now() > deadline) {
        throw new Error(
          `no matching event within ${timeoutMs} ms; saw: ${this.events.map((e) => e.event).join(", ")}`,
        );
      }
      await Bun.sleep(20);
    }
  }
}

describe.skipIf(!isRoot())("fulcrum run in a namespace", () => {
  let ns: TestNetns;
  let dir: string;
  let cfg: string;
  let proc: ReturnType<typeof Bun.spawn>;
  const log = new EventLog();

  beforeAll(async () => {
    ns = createNetns("fdm-");
    ns.ip("link", "add", "fdm0", "type", "veth", "peer", "name", "fdm0p");
    ns.ip("link", "set", "fdm0p", "up");
    ns.ip("link", "set", "lo", "up");
    dir = mkdtempSync(join(tmpdir(), "fdm-"));
    cfg = join(dir, "fulcrum.toml");
    writeFileSync(cfg, config(150));
    // FULCRUM_DAEMON_ENTRY runs another build of the same CLI, e.g. the image's bundle.
    const entry = process.env["FULCRUM_DAEMON_ENTRY"] ?? join(ROOT, "src/main.ts");
    proc = Bun.spawn(["ip", "netns", "exec", ns.name, BUN, entry, "run", cfg], {
      stdout: "pipe",
      stderr: "pipe",
      env: {
        ...process.env,
        FULCRUM_LOG_FORMAT: "json",
        FULCRUM_DATA_DIR: join(dir, "data"),
        FULCRUM_STATE_DIR: join(dir, "state"),
      },
    });
    void log.pump(proc.stderr as ReadableStream<Uint8Array>);
    await log.waitFor((e) => e.event === "fulcrum.ready", 20_000);
  }, 30_000);

  afterAll(async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
    ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  test("interfaces: address and ARP sysctls applied, link up", () => {
    const [link] = ns.ipJson<{ flags: string[]; addr_info: { local: string }[] }[]>("addr", "show", "fdm0");
    expect(link?.flags).toContain("UP");
    expect(link?.addr_info.map((a) => a.local)).toContain("10.77.0.2");
    expect(ns.sysctl("net/ipv4/conf/fdm0/arp_ignore")).toBe("1");
    expect(ns.sysctl("net/ipv4/conf/fdm0/arp_announce")).toBe("2");
  });

  test("without IPVS in the kernel the daemon says so and carries on", async () => {
    const e = await log.waitFor((x) => x.event === "ipvs.unavailable", 5_000);
    expect(String(e["reason"])).toContain("IPVS");
  });

  test("the only router becomes MASTER and holds the VIP", async () => {
    await log.waitFor((e) => e.event === "vrrp.state" && e["to"] === "master", 10_000);
    const deadline = performance.now() + 5_000;
    let addrs: string[] = [];
    while (performance.now() < deadline) {
      const [link] = ns.ipJson<{ addr_info: { local: string }[] }[]>("addr", "show", "fdm0");
      addrs = link?.addr_info.map((a) => a.local) ?? [];
      if (addrs.includes("10.77.0.100")) break;
      await Bun.sleep(50);
    }
    expect(addrs).toContain("10.77.0.100");
  });

  test("SIGHUP reloads: the change is applied and logged with its diff", async () => {
    writeFileSync(cfg, config(120));
    proc.kill("SIGHUP");
    const e = await log.waitFor((x) => x.event === "config.reloaded", 10_000);
    expect(e["diff"]).toEqual(["~ vrrp.instances[VI_T].priority: 150 -> 120"]);
  });

  test("a broken config on SIGHUP is refused and the running config stays", async () => {
    writeFileSync(cfg, config(120).replace('method = "dr"', 'method = "drr"'));
    proc.kill("SIGHUP");
    const e = await log.waitFor((x) => x.event === "config.reload_rejected", 10_000);
    expect(String((e["lines"] as string[])[0])).toMatch(/fulcrum\.toml:\d+:\d+: services\.web\.method: /);
    expect(proc.exitCode).toBeNull();
  });

  test("SIGTERM: the VIP leaves the box and the process exits 0", async () => {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const [link] = ns.ipJson<{ addr_info: { local: string }[] }[]>("addr", "show", "fdm0");
    expect(link?.addr_info.map((a) => a.local)).not.toContain("10.77.0.100");
  });
});

// Interop with Debian's keepalived on the same bridge: keepalived master with a fulcrum backup and the
// reverse, VRRPv3 and VRRPv2; each side takes over when the other dies and gives back on return (preempt).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { keepalivedArgv } from "../helpers/keepalived.ts";
import { CLIENT_ARP_DEADLINE_MS, isRoot, Lab, type Runner, waitFor } from "./vrrp-lab.ts";

const VIP = "10.79.0.100";
const hosts = { k: "10.79.0.1", f: "10.79.0.2", c: "10.79.0.50" } as const;
const haveKeepalived = existsSync("/usr/sbin/keepalived");

/** A keepalived VRRP-only daemon in namespace k; its own log (stderr) tells its state. */
class Keepalived {
  private static started = 0;
  private runner: Runner | null = null;
  constructor(
    private readonly lab: Lab,
    private readonly version: 2 | 3,
    private readonly priority: number,
    private readonly intervalS: number,
  ) {}

  start(): void {
    const i = `${Keepalived.started++}`;
    const conf = this.lab.writeFile(
      `k${i}.conf`,
      `global_defs {
  router_id fvr_k
}
vrrp_instance VI {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${this.priority}
  advert_int ${this.intervalS}
  version ${this.version}
  virtual_ipaddress {
    ${VIP}/24
  }
}
`,
    );
    const d = this.lab.dir;
    this.runner = this.lab.spawn("k", keepalivedArgv(conf, `${d}/k${i}`));
    this.pidFile = `${d}/k${i}-vrrp.pid`;
  }

  private pidFile = "";

  /** keepalived logs "(VI) Entering MASTER STATE" / "BACKUP STATE". */
  state(): "master" | "backup" | undefined {
    const lines = this.runner?.stderr ?? [];
    for (let i = lines.length - 1; i >= 0; i--) {
      if (lines[i]!.includes("Entering MASTER STATE")) return "master";
      if (lines[i]!.includes("Entering BACKUP STATE")) return "backup";
    }
    return undefined;
  }

  /** Dies without a word: freeze both processes first so the parent cannot respawn or resign for the child. */
  kill(): void {
    const parent = this.runner?.proc.pid;
    const child = existsSync(this.pidFile) ? Number(readFileSync(this.pidFile, "utf8").trim()) : 0;
    for (const sig of ["SIGSTOP", "SIGKILL"] as const) {
      for (const pid of [child, parent]) {
        if (!pid) continue;
        try {
          process.kill(pid, sig);
        } catch {
          // gone
        }
      }
    }
  }

  /** Since keepalived last became master: it answered a lower master's advert ("forcing new election"). */
  answeredLowerMaster(from: string, priority: number): boolean {
    const lines = this.runner?.stderr ?? [];
    const since = lines.findLastIndex((l) => l.includes("Entering MASTER STATE"));
    const answer = `Received advert from ${from} with lower priority ${priority}`;
    return (
      since >= 0 && lines.slice(since).some((l) => l.includes(answer) && l.includes("forcing new election"))
    );
  }

  logTail(): string {
    return (this.runner?.stderr ?? []).slice(-30).join("\n");
  }

  watchChild(): void {
    if (existsSync(this.pidFile)) this.lab.adoptPid(Number(readFileSync(this.pidFile, "utf8").trim()));
  }
}

function fulcrumSpec(version: 2 | 3, priority: number, intervalS: number) {
  return {
    instances: [
      {
        name: "vi",
        interface: "eth0",
        virtual_router_id: 51,
        priority,
        advert_int: intervalS,
        version,
        virtual_ipaddress: [`${VIP}/24`],
      },
    ],
  };
}

for (const version of [3, 2] as const) {
  const intervalS = version === 3 ? 0.1 : 1;
  // Down interval of the slower side plus generous slack for the 2-core machine.
  const takeoverMs = (3 * intervalS + 1) * 1000 + 1500;

  describe.skipIf(!isRoot || !haveKeepalived)(`VRRPv${version} interop with keepalived (netns)`, () => {
    let lab: Lab;
    beforeAll(() => {
      lab = Lab.create(hosts);
    });
    afterAll(() => {
      lab?.destroy();
    });
    const clientArpMovesTo = async (host: "k" | "f") => {
      await waitFor(
        `client ARP -> ${host}`,
        () => {
          lab.exec("c", ["ping", "-c", "1", "-W", "1", VIP], { allowFail: true });
          return lab.neigh("c", VIP) === lab.mac(host);
        },
        CLIENT_ARP_DEADLINE_MS,
      );
    };

    test("keepalived master, fulcrum backup: fulcrum takes over when keepalived dies and gives back", async () => {
      const ka = new Keepalived(lab, version, 200, intervalS);
      ka.start();
      const fu = lab.startFulcrum("f", fulcrumSpec(version, 100, intervalS));
      try {
        await waitFor("keepalived master", () => ka.state() === "master", takeoverMs + 2000);
        ka.watchChild();
        await waitFor("fulcrum backup following keepalived", () => fu.role() === "backup", 2000);
        // fulcrum hears keepalived's adverts and accepts them (no drops by reason). Backup is also where
        // fulcrum starts, so ask for its counters until the first advert has been accepted.
        type Stats = { accepted: number; drops: Record<string, number> };
        let asked = 0;
        const s = await waitFor(
          "fulcrum accepted keepalived's adverts",
          () => {
            const last = fu.events.findLast((e) => e.event === "vrrp.stats")?.["stats"] as Stats | undefined;
            if (last !== undefined && last.accepted > 0) return last;
            if (asked++ % 20 === 0) fu.send({ stats: true });
            return undefined;
          },
          5000,
        );
        expect(Object.values(s.drops).reduce((a, b) => a + b, 0)).toBe(0);
        expect(lab.hasAddress("f", VIP)).toBe(false);
        await clientArpMovesTo("k");

        ka.kill();
        await waitFor("fulcrum master", () => fu.role() === "master", takeoverMs);
        expect(lab.hasAddress("f", VIP)).toBe(true);
        await clientArpMovesTo("f");

        ka.start(); // returns with the higher priority: preempts
        await waitFor("keepalived master again", () => ka.state() === "master", takeoverMs + 2000);
        ka.watchChild();
        await waitFor("fulcrum back to backup", () => fu.role() === "backup", takeoverMs);
        expect(fu.lastTransition("backup")!.reason).toContain("higher priority");
        // fulcrum's last advert as it stepped down: keepalived, master, answers it with GARPs, as it
        // answers any lower master (what re-points a split's clients when the winner spoke first).
        await waitFor(
          "keepalived answered fulcrum's last advert",
          () => ka.answeredLowerMaster(hosts.f, 100),
          5000,
        );
        expect(lab.hasAddress("f", VIP)).toBe(false);
        await clientArpMovesTo("k");
      } finally {
        ka.kill();
        fu.kill("SIGKILL");
        lab.exec("k", ["ip", "addr", "flush", "dev", "eth0", "to", `${VIP}/32`], { allowFail: true });
        lab.exec("f", ["ip", "addr", "flush", "dev", "eth0", "to", `${VIP}/32`], { allowFail: true });
      }
    }, 60_000);

    test("fulcrum master, keepalived backup: keepalived takes over when fulcrum dies and gives back", async () => {
      const ka = new Keepalived(lab, version, 100, intervalS);
      ka.start();
      let fu = lab.startFulcrum("f", fulcrumSpec(version, 200, intervalS));
      try {
        await waitFor("fulcrum master", () => fu.role() === "master", takeoverMs + 2000);
        await waitFor("keepalived backup", () => ka.state() === "backup", 2000);
        ka.watchChild();
        await Bun.sleep(intervalS * 4000); // keepalived stays backup while fulcrum advertises
        expect(ka.state()).toBe("backup");
        // keepalived found nothing wrong with fulcrum's adverts (it logs checksum/TTL/address complaints).
        // Whole words only: the log also carries the test's random temp dir name (once "tTLkcd").
        expect(ka.logTail()).not.toMatch(/\b(checksum|invalid|TTL|not present|wrong|mismatch)\b/i);
        expect(lab.hasAddress("k", VIP)).toBe(false);
        await clientArpMovesTo("f");

        fu.kill("SIGKILL");
        await waitFor("keepalived master", () => ka.state() === "master", takeoverMs);
        await waitFor("VIP on keepalived", () => lab.hasAddress("k", VIP), 2000);
        await clientArpMovesTo("k");

        fu = lab.startFulcrum("f", fulcrumSpec(version, 200, intervalS));
        await waitFor("fulcrum master again", () => fu.role() === "master", takeoverMs + 2000);
        await waitFor("keepalived back to backup", () => ka.state() === "backup", takeoverMs);
        await waitFor("VIP left keepalived", () => !lab.hasAddress("k", VIP), 2000);
        await clientArpMovesTo("f");
      } catch (e) {
        console.error(
          `keepalived log:\n${ka.logTail()}\nfulcrum events:\n${fu.events.map((x) => JSON.stringify(x)).join("\n")}`,
        );
        throw e;
      } finally {
        ka.kill();
        fu.kill("SIGKILL");
      }
    }, 60_000);
  });
}

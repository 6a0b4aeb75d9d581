// Director failover as the client sees it, in the whole-appliance lab (test/helpers/ha-lab.ts; QEMU/TCG):
//   bun bench/ha-failover.ts [TRIALS=10] [COLD_STARTS=3] [PHASES=on,off]
// Two phases, each on a fresh lab: with the IPVS connection sync daemon following VRRP, and without it.
// Each trial kills director A under load (QMP quit on odd trials, SIGKILL of its QEMU on even ones),
// measures what the client saw until B served everything, then boots A again and measures its way back to
// master (it preempts after preempt_delay) and what the handback cost. Before the trials of the first
// phase, COLD_STARTS times: both directors down, A booted alone, qemu start -> A serving both VIPs.
// The incumbent comparison for VRRP itself (fulcrum vs keepalived) is bench/vrrp-failover.ts.
import { sweepLab } from "../qemu/lab.ts";
import {
  DB_VIP,
  FRONT_MAC,
  HaLab,
  type HaLoad,
  PREEMPT_DELAY_S,
  summarize,
  WEB_VIP,
  waitUntil,
} from "../test/helpers/ha-lab.ts";

const [trialsText = "10", coldText = "3", phasesText = "on,off"] = process.argv.slice(2);
const PHASES = phasesText.split(",").filter((p) => p === "on" || p === "off");
/** FRESH_DISK=1: A comes back on a new disk (config from fw_cfg again) instead of its own. */
const FRESH_DISK = process.env["FRESH_DISK"] === "1";
const TRIALS = Number(trialsText);
const COLD_STARTS = Number(coldText);
const PREFIX = "flab-hab-";

if (process.getuid?.() !== 0) {
  console.error("ha-failover: needs root (namespaces, taps, QEMU)");
  process.exit(1);
}

interface Trial {
  readonly kill: "qmp quit" | "SIGKILL";
  readonly gapMs: number;
  readonly failed: number;
  readonly lost: number;
  readonly sessions: number;
  readonly sessionWaitMs: number;
  readonly takeoverMs: number;
  readonly readyMs: number;
  readonly masterMs: number;
  readonly handbackFailed: number;
  readonly handbackLost: number;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const max = (xs: readonly number[]) => Math.max(...xs);

/** Both VIPs answer through `box`: a request to each VIP succeeds and the client's ARP entry names it. */
async function serving(ha: HaLab, box: "a" | "b"): Promise<boolean> {
  const net = ha.lab.network;
  // Traffic first: a client with no entry for the VIP (both directors were down) makes one by asking.
  const web = await net.exec(net.clientNs, ["curl", "-s", "-m", "2", `http://${WEB_VIP}/`], 5_000);
  const db = await net.exec(
    net.clientNs,
    ["bash", "-c", `exec 3<>/dev/tcp/${DB_VIP}/3306 && head -c 4 <&3 >/dev/null`],
    5_000,
  );
  return web.code === 0 && db.code === 0 && (await ha.clientMac(net.clientNs, WEB_VIP)) === FRONT_MAC[box];
}

/** Until every session either answered after `t` or was reported lost after `from`. */
async function settleSessions(load: HaLoad, ids: readonly number[], from: number, t: number): Promise<void> {
  await waitUntil(
    () => {
      const recent = load.since(from);
      const done = new Set(
        recent
          .filter(
            (r) =>
              ((r.k === "ka" || r.k === "my") && r.ok && r.t > t) || r.k === "ka-lost" || r.k === "my-lost",
          )
          .map((r) => r.s),
      );
      return ids.every((id) => done.has(id));
    },
    60_000,
    "every session to answer again or be reported lost",
  );
}

async function coldStarts(ha: HaLab): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    await ha.lab.killGuest("a");
    await ha.lab.killGuest("b");
    const t0 = Date.now();
    const a = await ha.lab.startGuest("a", { reuseDisk: true });
    await a.waitReady(180_000);
    await waitUntil(() => serving(ha, "a"), 120_000, "A alone serving both VIPs");
    out.push(Date.now() - t0);
    say(`  cold start ${i + 1}: qemu start -> A master serving both VIPs ${Date.now() - t0} ms (alone)`);
    const b = await ha.lab.startGuest("b", { reuseDisk: true });
    await b.waitReady(180_000);
  }
  return out;
}

let current: HaLab | undefined;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void (current?.stop() ?? Promise.resolve()).then(() => sweepLab(PREFIX)).finally(() => process.exit(130));
  });
}

async function phase(sync: boolean, cold: boolean): Promise<{ trials: Trial[]; cold: number[] }> {
  say(`\n== phase: connection sync ${sync ? "ON" : "OFF"}; starting the lab`);
  const ha = await HaLab.start({ prefix: PREFIX, sync, log: (l) => say(`  ${l}`) });
  current = ha;
  try {
    await ha.waitSteady(180_000);
    const coldMs = cold ? await coldStarts(ha) : [];
    await ha.waitSteady(180_000);
    const load = await ha.startLoad();
    const trials: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      await ha.waitSteady(120_000).catch(async (err: unknown) => {
        // A real server's check flapping on a loaded host must not end the run: A master is what counts.
        say(`  (not every real server is in both pools: ${String(err)}; going on once A is master)`);
        await ha.waitSteady(120_000, false);
      });
      // Sessions settle on A's table (and, with sync, on B's) before the fault.
      await Bun.sleep(3_000);
      const sessions = [...load.liveSessions().keys()];
      const kill = i % 2 === 0 ? "qmp quit" : "SIGKILL";
      const tKill = Date.now();
      if (kill === "qmp quit") {
        await ha.lab.guest("a").qmp("quit");
        await ha.lab.forgetGuest("a");
      } else {
        await ha.lab.killGuest("a");
      }
      await waitUntil(() => serving(ha, "b"), 60_000, "B serving both VIPs");
      const takeoverMs = Date.now() - tKill;
      await waitUntil(
        () => load.since(tKill + takeoverMs).filter((r) => r.k === "fresh" && r.ok).length >= 20,
        60_000,
        "fresh requests through B",
      );
      await settleSessions(load, sessions, tKill, tKill + takeoverMs);
      const s = summarize(load.records, tKill - 1_000, Date.now());

      const tStart = Date.now();
      const a = await ha.lab.startGuest("a", FRESH_DISK ? {} : { reuseDisk: true });
      const readyMs = await a.waitReady(180_000);
      await waitUntil(() => serving(ha, "a"), 180_000, "A serving both VIPs again").catch(async (err) => {
        say(
          `  A did not come back: VRRP on A ${ha.vrrpStates("a").join(" -> ")}, on B ${ha.vrrpStates("b").join(" -> ")}`,
        );
        say(`  client's ARP entry for the web VIP: ${await ha.clientMac(ha.lab.network.clientNs, WEB_VIP)}`);
        for (const box of ["a", "b"] as const) {
          const events = ha.lab
            .guest(box)
            .serial.events()
            .filter((e) => String(e["event"]).startsWith("health."));
          say(`  ${box}: last health events ${JSON.stringify(events.slice(-4).map((e) => e["reason"]))}`);
        }
        throw err;
      });
      const masterMs = Date.now() - tStart;
      const back = [...load.liveSessions(10_000).keys()];
      await settleSessions(load, back, tStart, Date.now());
      const h = summarize(load.records, tStart, Date.now());
      const t: Trial = {
        kill,
        gapMs: s.freshGapMs,
        failed: s.freshFailed,
        lost: s.kaLost + s.myLost,
        sessions: sessions.length,
        sessionWaitMs: Math.max(s.kaMaxWaitMs, s.myMaxWaitMs),
        takeoverMs,
        readyMs: Math.round(readyMs),
        masterMs,
        handbackFailed: h.freshFailed,
        handbackLost: h.kaLost + h.myLost,
      };
      trials.push(t);
      say(
        `  trial ${i + 1} (${kill}): gap ${t.gapMs} ms, failed ${t.failed}, sessions lost ${t.lost}/${t.sessions} ` +
          `(longest wait ${t.sessionWaitMs} ms), B serving after ${t.takeoverMs} ms; A back: ready ${t.readyMs} ms, ` +
          `master ${t.masterMs} ms; handback failed ${t.handbackFailed}, lost ${t.handbackLost}`,
      );
    }
    return { trials, cold: coldMs };
  } finally {
    await ha.stop();
    await sweepLab(PREFIX);
  }
}

function report(label: string, trials: readonly Trial[]): void {
  const gaps = trials.map((t) => t.gapMs);
  console.log(`  ${label}`);
  console.log(
    `    client gap ms (fresh connections): median ${median(gaps)}  max ${max(gaps)}  [${gaps.join(", ")}]`,
  );
  console.log(`    requests failed per trial: [${trials.map((t) => t.failed).join(", ")}]`);
  console.log(
    `    established sessions lost per trial (of ${trials[0]?.sessions ?? 0}): [${trials.map((t) => t.lost).join(", ")}]`,
  );
  console.log(
    `    longest wait of an established session ms: median ${median(trials.map((t) => t.sessionWaitMs))}  max ${max(trials.map((t) => t.sessionWaitMs))}`,
  );
  console.log(
    `    kill -> B serving both VIPs (client probe) ms: median ${median(trials.map((t) => t.takeoverMs))}  max ${max(trials.map((t) => t.takeoverMs))}`,
  );
  console.log(
    `    A back: qemu start -> ready ms median ${median(trials.map((t) => t.readyMs))}; -> master serving both VIPs ms median ${median(trials.map((t) => t.masterMs))}  max ${max(trials.map((t) => t.masterMs))} (preempt_delay ${PREEMPT_DELAY_S} s)`,
  );
  console.log(
    `    handback: requests failed per trial [${trials.map((t) => t.handbackFailed).join(", ")}], sessions lost per trial [${trials.map((t) => t.handbackLost).join(", ")}]`,
  );
}

const withSync = PHASES.includes("on") ? await phase(true, COLD_STARTS > 0) : { trials: [], cold: [] };
const withoutSync = PHASES.includes("off") ? await phase(false, false) : { trials: [], cold: [] };
console.log(
  `\nDirector failover under load (QEMU/TCG guests, advert_int 1 s, B's Master_Down_Interval 3.61 s), ${TRIALS} trials per mode`,
);
console.log(
  "  load: 2 workers of HTTP requests on fresh connections (2 s timeout), 4 HTTP keep-alive and 4 MySQL sessions",
);
if (withSync.trials.length > 0) report("connection sync ON", withSync.trials);
if (withoutSync.trials.length > 0) report("connection sync OFF", withoutSync.trials);
if (withSync.cold.length > 0) {
  console.log(
    `  cold start, A alone: qemu start -> master serving both VIPs ms: median ${median(withSync.cold)}  max ${max(withSync.cold)}  [${withSync.cold.join(", ")}]`,
  );
}

// A small in-memory box for the console's tests: a snapshot provider and an ActionHandler that records
// what it was asked and changes its own state the way the daemon would (drain -> weight 0, ...).
import pino from "pino";
import type { ActionHandler, ActionResult, Actor, OperatorAction } from "../../src/state/actions.ts";
import type {
  BoxSnapshot,
  RealServerSnapshot,
  ServiceSnapshot,
  VrrpInstanceSnapshot,
} from "../../src/state/snapshot.ts";

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

type MutableReal = { -readonly [K in keyof RealServerSnapshot]: RealServerSnapshot[K] };
type MutableVrrp = { -readonly [K in keyof VrrpInstanceSnapshot]: VrrpInstanceSnapshot[K] };

function real(address: string, port: number, weight: number, extra: Partial<MutableReal> = {}): MutableReal {
  return {
    address,
    port,
    method: "dr",
    configuredWeight: weight,
    weight,
    health: "up",
    draining: false,
    activeConns: 3,
    inactiveConns: 12,
    cps: 4,
    inPps: 40,
    outPps: 0,
    inBps: 5200,
    outBps: 0,
    conns: 1234,
    inBytes: 1_500_000,
    outBytes: 0,
    checks: [
      { atMs: T0 - 2000, ok: true, latencyMs: 1.5, reason: "HTTP 200" },
      { atMs: T0 - 1000, ok: true, latencyMs: 2.25, reason: "HTTP 200" },
    ],
    ...extra,
  };
}

export interface Performed {
  readonly actor: Actor;
  readonly action: OperatorAction;
}

export class FakeBox implements ActionHandler {
  nowMs = T0;
  readonly performed: Performed[] = [];
  reloadDiff: string[] = ["+ service dns (UDP  192.0.2.53:53)", "~ web: scheduler wlc -> wrr"];
  readonly vrrp: MutableVrrp[] = [
    {
      name: "VI_web",
      interface: "eth0",
      vrid: 51,
      state: "MASTER",
      priority: 150,
      effectivePriority: 150,
      masterAddress: "192.0.2.2",
      vips: ["192.0.2.10/32", "192.0.2.11/32"],
      transitions: 1,
      lastReason: "higher priority than peer",
    },
    {
      name: "VI_db",
      interface: "eth1",
      vrid: 52,
      state: "BACKUP",
      priority: 100,
      effectivePriority: 100,
      masterAddress: "198.51.100.3",
      vips: ["198.51.100.10/32"],
      transitions: 2,
      lastReason: "peer has higher priority",
    },
  ];
  readonly services: {
    name: string;
    label: string;
    scheduler: string;
    persistence: number;
    reals: MutableReal[];
  }[] = [
    {
      name: "web",
      label: "TCP  192.0.2.10:80",
      scheduler: "wlc",
      persistence: 0,
      reals: [
        real("10.0.0.2", 80, 5, { checkTotals: { ok: 120, failed: 2 } }),
        real("10.0.0.3", 80, 5),
        real("10.0.0.4", 80, 5, {
          health: "down",
          weight: 0,
          activeConns: 0,
          inactiveConns: 0,
          checks: [{ atMs: T0 - 500, ok: false, latencyMs: 3000, reason: "connect timeout after 3000 ms" }],
        }),
      ],
    },
    {
      name: "dns",
      label: "UDP  [2001:db8::53]:53",
      scheduler: "rr",
      persistence: 300,
      reals: [real("2001:db8::1:2", 53, 1, { method: "nat" })],
    },
  ];
  events: { atMs: number; event: string; reason: string }[] = Array.from({ length: 30 }, (_, i) => ({
    atMs: T0 - (30 - i) * 1000,
    event: i % 2 ? "health.up" : "vrrp.state",
    reason: `event number ${i + 1}`,
  }));
  update: BoxSnapshot["update"] = { bootSlot: "a", state: "idle", progress: null, lastResult: "" };
  log: { atMs: number; level: string; msg: string }[] = [
    { atMs: T0 - 3000, level: "info", msg: "config.loaded: loaded /data/fulcrum.toml" },
    { atMs: T0 - 2000, level: "warn", msg: "health.down: 10.0.0.4:80 connect timeout" },
  ];

  snapshot = (): BoxSnapshot => ({
    hostname: "lb1.example",
    version: "0.1.0",
    build: "abc1234",
    startedAtMs: T0 - (3 * 86_400 + 4 * 3600 + 5 * 60 + 6) * 1000,
    nowMs: this.nowMs,
    vrrp: this.vrrp.map((v) => ({ ...v, vips: [...v.vips] })),
    services: this.services.map(
      (s): ServiceSnapshot => ({
        name: s.name,
        label: s.label,
        scheduler: s.scheduler,
        persistenceTimeout: s.persistence,
        quorumUp: s.reals.some((r) => r.health === "up"),
        realServers: s.reals.map((r) => ({ ...r })),
      }),
    ),
    events: [...this.events],
    update: this.update,
    log: [...this.log],
  });

  /** Uploaded update artifacts: who sent how many bytes, forced or not. */
  readonly uploads: { who: string; bytes: number; force: boolean }[] = [];

  async upload(actor: Actor, body: ReadableStream<Uint8Array>, force: boolean): Promise<ActionResult> {
    if (actor.role !== "admin") return { ok: false, message: `${actor.who} may not update` };
    let bytes = 0;
    for await (const chunk of body) bytes += chunk.length;
    this.uploads.push({ who: actor.who, bytes, force });
    return { ok: true, message: `received ${bytes} bytes` };
  }

  async perform(actor: Actor, action: OperatorAction): Promise<ActionResult> {
    this.performed.push({ actor, action });
    switch (action.kind) {
      case "drain":
      case "enable":
      case "weight": {
        const r = this.findReal(action.service, action.real);
        if (!r) return { ok: false, message: `no such real server ${action.real}` };
        if (action.kind === "drain") {
          r.draining = true;
          r.weight = 0;
        } else if (action.kind === "enable") {
          r.draining = false;
          r.weight = r.configuredWeight;
        } else r.weight = action.weight;
        return { ok: true, message: `${action.real} in ${action.service}: weight ${r.weight}` };
      }
      case "failover": {
        const v = this.vrrp.find((x) => x.name === action.instance);
        if (!v) return { ok: false, message: "no such instance" };
        v.effectivePriority = action.priority;
        v.state = "BACKUP";
        v.transitions++;
        return { ok: true, message: `${v.name} now at priority ${action.priority}` };
      }
      case "failback": {
        const v = this.vrrp.find((x) => x.name === action.instance);
        if (!v) return { ok: false, message: "no such instance" };
        v.effectivePriority = v.priority;
        return { ok: true, message: `${v.name} back at priority ${v.priority}` };
      }
      case "reload":
        return action.confirm
          ? { ok: true, message: "config reloaded" }
          : { ok: true, message: `${this.reloadDiff.length} changes`, diff: [...this.reloadDiff] };
      case "update":
        this.update = {
          ...this.update,
          state: "downloading",
          progress: { bytes: 1 << 20, total: 4 << 20, rateBps: 1 << 19 },
        };
        return { ok: true, message: `update from ${action.source} started` };
      case "reboot":
        return { ok: true, message: "rebooting" };
    }
  }

  findReal(service: string, id: string): MutableReal | undefined {
    const s = this.services.find((x) => x.name === service);
    return s?.reals.find(
      (r) => (r.address.includes(":") ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`) === id,
    );
  }
}

/** A logger that collects JSON lines in memory, to assert what was logged. */
export function memoryLogger(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const log = pino({ level: "debug" }, { write: (chunk: string) => chunks.push(chunk) });
  return {
    log,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Waits for a condition with a deadline instead of sleeping a fixed time. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await Bun.sleep(everyMs);
  }
}

// The VRRP core: RFC 5798 (with RFC 9568's clarifications) for every instance of one box, plus keepalived's
// tracking weights and sync groups. Sans-I/O: step(state, input, nowMs) -> { state, actions, wakeAtMs }.
// The caller owns sockets and timers; it calls step again with a tick no later than wakeAtMs.
import { compareIP } from "./addr.ts";
import { intervalMs, masterDownMs, skewMs } from "./timing.ts";
import type {
  Advert,
  CoreAction,
  CoreInput,
  Role,
  StateChange,
  SyncGroupSpec,
  VrrpInstanceSpec,
} from "./types.ts";

export interface InstanceState {
  readonly spec: VrrpInstanceSpec;
  readonly role: Role;
  /** Console override of the configured priority; null = configured. */
  readonly adminPriority: number | null;
  /** Priority after override and tracking weights; what the adverts carry. */
  readonly priority: number;
  /** A weight-0 tracked object is down. */
  readonly faulted: boolean;
  /** Learned from the master's adverts (RFC 5798 6.4.2); own interval until one is heard. */
  readonly masterAdverIntervalCs: number;
  readonly adverAt: number | null;
  readonly masterDownAt: number | null;
  /** The down timer runs because the master resigned (priority 0): only Skew_Time, and said so. */
  readonly masterResigned: boolean;
  /**
   * Preemption is held off until this time (keepalived's preempt_delay); null = no lower master seen
   * since the last legitimate one, so the next lower advert starts the delay.
   */
  readonly preemptAt: number | null;
  /** Source address of the master we follow, or our own when master. */
  readonly masterAddress: string | null;
  /**
   * Last time we answered a lower-priority master; bounds those answers. Our own periodic adverts do
   * not count: the advert that deposes a master must not silence our answer to its last word.
   */
  readonly lowerAnsweredAt: number;
  /** Master only: a lower master spoke inside that bound; the answer is due then (deferred, never lost). */
  readonly lowerAnswerDueAt: number | null;
  /** Master only, with garp_master_refresh: the next periodic GARP/NA round. */
  readonly garpRefreshAt: number | null;
  /** Master only, with garp_master_delay: the second GARP/NA round after taking over or a conflict. */
  readonly garpSecondRoundAt: number | null;
}

export interface CoreState {
  readonly phase: "idle" | "running" | "stopped";
  readonly instances: readonly InstanceState[];
  readonly groups: readonly SyncGroupSpec[];
  /** Tracked object key -> up; keys not yet reported count as up. */
  readonly tracks: Readonly<Record<string, boolean>>;
}

export interface StepResult {
  readonly state: CoreState;
  readonly actions: CoreAction[];
  /** Call step with a tick no later than this; +Infinity when nothing is scheduled. */
  readonly wakeAtMs: number;
}

export class VrrpInvariantError extends Error {
  override readonly name = "VrrpInvariantError";
}

/** Virtual addresses grouped by the interface they live on, in first-seen order. */
function byDevice(s: VrrpInstanceSpec): Array<[string, string[]]> {
  const m = new Map<string, string[]>();
  s.virtualAddresses.forEach((c, k) => {
    const dev = s.virtualAddressDevs[k] ?? s.interface;
    m.set(dev, [...(m.get(dev) ?? []), c]);
  });
  return [...m];
}

function assert(cond: boolean, what: string): asserts cond {
  if (!cond) throw new VrrpInvariantError(`VRRP invariant violated: ${what}`);
}

/** Bound on the actions one step may emit: a packet flood or a bug can never build an unbounded queue. */
export const MAX_ACTIONS_PER_INSTANCE = 8;

export function initialState(
  specs: readonly VrrpInstanceSpec[],
  groups: readonly SyncGroupSpec[] = [],
): CoreState {
  const names = new Set<string>();
  for (const s of specs) {
    assert(!names.has(s.name), `duplicate instance name ${s.name}`);
    names.add(s.name);
  }
  const grouped = new Set<string>();
  for (const g of groups) {
    for (const m of g.instances) {
      assert(names.has(m), `sync group ${g.name} names unknown instance ${m}`);
      assert(!grouped.has(m), `instance ${m} is in two sync groups`);
      grouped.add(m);
    }
  }
  const instances = specs.map(
    (spec): InstanceState => ({
      spec,
      role: "initialize",
      adminPriority: null,
      priority: spec.priority,
      faulted: false,
      masterAdverIntervalCs: spec.advertIntervalCs,
      adverAt: null,
      masterDownAt: null,
      masterResigned: false,
      preemptAt: null,
      masterAddress: null,
      lowerAnsweredAt: Number.NEGATIVE_INFINITY,
      lowerAnswerDueAt: null,
      garpRefreshAt: null,
      garpSecondRoundAt: null,
    }),
  );
  const state: CoreState = { phase: "idle", instances, groups, tracks: {} };
  return { ...state, instances: instances.map((i) => withTracking(i, state.tracks)) };
}

/** keepalived's rule: weight 0 faults; +w while up; -w (negative weight) while down. Owners keep 255. */
function withTracking(inst: InstanceState, tracks: Readonly<Record<string, boolean>>): InstanceState {
  const base = inst.adminPriority ?? inst.spec.priority;
  let delta = 0;
  let faulted = false;
  for (const t of inst.spec.tracks) {
    const up = tracks[t.key] !== false;
    if (t.weight === 0) {
      if (!up) faulted = true;
    } else if (t.weight > 0 && up) delta += t.weight;
    else if (t.weight < 0 && !up) delta += t.weight;
  }
  const priority = base === 255 ? 255 : Math.max(1, Math.min(254, base + delta));
  return { ...inst, priority, faulted };
}

/** The working copy of one step: mutable inside step, frozen for the caller. */
class Step {
  readonly actions: CoreAction[] = [];
  readonly instances: InstanceState[];
  tracks: Record<string, boolean>;

  constructor(
    readonly prev: CoreState,
    readonly now: number,
  ) {
    this.instances = [...prev.instances];
    this.tracks = { ...prev.tracks };
  }

  index(name: string): number {
    return this.instances.findIndex((i) => i.spec.name === name);
  }

  get(i: number): InstanceState {
    return this.instances[i]!;
  }

  set(i: number, inst: InstanceState): void {
    this.instances[i] = inst;
  }

  groupOf(name: string): SyncGroupSpec | undefined {
    return this.prev.groups.find((g) => g.instances.includes(name));
  }

  sendAdvert(i: number, priority: number): void {
    const inst = this.get(i);
    const s = inst.spec;
    this.actions.push({
      kind: "send",
      instance: s.name,
      advert: {
        version: s.version,
        family: s.family,
        vrid: s.vrid,
        priority,
        intervalCs: s.advertIntervalCs,
        addresses: s.virtualAddresses.map((c) => c.split("/")[0]!),
      },
    });
  }

  garp(i: number, count = this.get(i).spec.garpCount): void {
    const s = this.get(i).spec;
    if (count <= 0) return;
    for (const [dev, cidrs] of byDevice(s)) {
      this.actions.push({
        kind: "garp",
        instance: s.name,
        interface: dev,
        addresses: cidrs.map((c) => c.split("/")[0]!),
        count,
        intervalMs: s.garpIntervalMs,
      });
    }
  }

  event(i: number, from: Role, reason: string, group?: string): void {
    const inst = this.get(i);
    const change: StateChange = {
      instance: inst.spec.name,
      from,
      to: inst.role,
      reason,
      priority: inst.priority,
      ...(group ? { group } : {}),
    };
    this.actions.push({ kind: "event", change });
  }

  private vipAction(i: number, kind: "addVip" | "delVip"): void {
    const s = this.get(i).spec;
    for (const [dev, cidrs] of byDevice(s))
      this.actions.push({ kind, instance: s.name, interface: dev, cidrs });
  }

  toMaster(i: number, reason: string, group?: string): void {
    const prev = this.get(i);
    if (prev.role === "master") return;
    this.set(i, {
      ...prev,
      role: "master",
      adverAt: this.now + intervalMs(prev.spec.advertIntervalCs),
      masterDownAt: null,
      masterResigned: false,
      preemptAt: null,
      masterAddress: prev.spec.primaryAddress,
      garpRefreshAt: prev.spec.garpRefreshMs > 0 ? this.now + prev.spec.garpRefreshMs : null,
      garpSecondRoundAt: secondRoundAt(prev.spec, this.now),
      lowerAnswerDueAt: null,
    });
    this.sendAdvert(i, this.get(i).priority);
    this.vipAction(i, "addVip");
    this.garp(i);
    this.event(i, prev.role, reason, group);
    if (!group) this.propagate(i, "master", reason);
  }

  /**
   * learnedCs: the new master's interval when one was heard, else keep what we know.
   * deposed: a higher master took over. A master that steps down for one sends one last advert at
   * its own priority: the winner answers a lower master with a GARP round (as keepalived does), which
   * re-points the clients that followed us while a split lasted. Without it the heal is a race: when
   * the winner's advert arrives first we go quiet and those clients keep our MAC.
   */
  toBackup(
    i: number,
    reason: string,
    opts: { learnedCs?: number; master?: string; group?: string; deposed?: boolean } = {},
  ): void {
    const prev = this.get(i);
    if (prev.role === "backup") return;
    if (prev.role === "master" && opts.deposed) this.sendAdvert(i, prev.priority);
    // From initialize too: a previous run killed while master may have left the VIPs behind.
    if (prev.role === "master" || prev.role === "initialize") this.vipAction(i, "delVip");
    const learned =
      opts.learnedCs ?? (prev.role === "master" ? prev.spec.advertIntervalCs : prev.masterAdverIntervalCs);
    this.set(i, {
      ...prev,
      role: "backup",
      masterAdverIntervalCs: learned,
      adverAt: null,
      masterDownAt: this.now + masterDownMs(prev.spec.version, prev.priority, learned),
      masterResigned: false,
      masterAddress: opts.master ?? null,
      garpRefreshAt: null,
      garpSecondRoundAt: null,
      lowerAnswerDueAt: null,
      preemptAt: prev.spec.preemptDelayMs > 0 ? this.now + prev.spec.preemptDelayMs : null,
    });
    this.event(i, prev.role, reason, opts.group);
    if (!opts.group) this.propagate(i, "backup", reason, opts.deposed === true);
  }

  toFault(i: number, reason: string, group?: string): void {
    const prev = this.get(i);
    if (prev.role === "fault") return;
    if (prev.role === "master") this.sendAdvert(i, 0); // backups take over after Skew_Time, not Master_Down
    if (prev.role === "master" || prev.role === "initialize") this.vipAction(i, "delVip");
    this.set(i, {
      ...this.get(i),
      role: "fault",
      adverAt: null,
      masterDownAt: null,
      masterResigned: false,
      masterAddress: null,
      garpRefreshAt: null,
      garpSecondRoundAt: null,
      lowerAnswerDueAt: null,
    });
    this.event(i, prev.role, reason, group);
    if (!group) this.propagate(i, "fault", reason);
  }

  toInitialize(i: number, reason: string): void {
    const prev = this.get(i);
    if (prev.role === "initialize") return;
    if (prev.role === "master") {
      this.sendAdvert(i, 0);
      this.vipAction(i, "delVip");
    }
    this.set(i, {
      ...this.get(i),
      role: "initialize",
      adverAt: null,
      masterDownAt: null,
      masterResigned: false,
      masterAddress: null,
      garpRefreshAt: null,
      garpSecondRoundAt: null,
      lowerAnswerDueAt: null,
    });
    this.event(i, prev.role, reason);
  }

  /** Sync group: the other members follow a member's transition (fault dominates). */
  private propagate(i: number, to: Role, reason: string, deposed = false): void {
    const name = this.get(i).spec.name;
    const g = this.groupOf(name);
    if (!g) return;
    const why = `sync group ${g.name}: ${name} ${reason}`;
    for (const m of g.instances) {
      if (m === name) continue;
      const j = this.index(m);
      const other = this.get(j);
      if (to === "fault") this.toFault(j, why, g.name);
      else if (other.role === "fault") continue;
      else if (to === "master") this.toMaster(j, why, g.name);
      else if (to === "backup") this.toBackup(j, why, { group: g.name, deposed });
    }
  }

  /** A group leaves fault only when no member is faulted. */
  groupFaulted(name: string): boolean {
    const g = this.groupOf(name);
    if (!g) return this.get(this.index(name)).faulted;
    return g.instances.some((m) => this.get(this.index(m)).faulted);
  }
}

export function step(state: CoreState, input: CoreInput, nowMs: number): StepResult {
  assert(Number.isFinite(nowMs), "time is finite");
  const st = new Step(state, nowMs);
  let phase = state.phase;
  switch (input.kind) {
    case "start":
      if (phase === "idle") {
        phase = "running";
        start(st, input.resume ?? []);
      }
      break;
    case "shutdown":
      if (phase === "running") {
        for (let i = 0; i < st.instances.length; i++) st.toInitialize(i, "shutdown");
      }
      phase = "stopped";
      break;
    case "tick":
      if (phase === "running") tick(st);
      break;
    case "packet":
      if (phase === "running") packet(st, input.instance, input.advert);
      break;
    case "track":
      st.tracks[input.key] = input.up;
      retrack(st, phase === "running", `${input.key} ${input.up ? "up" : "down"}`);
      break;
    case "admin":
      admin(st, input, phase === "running");
      break;
  }
  // An adapter that wakes late may hand us an input after a timer fell due. The input goes first (an
  // advert that did arrive keeps the master), then whatever is still due fires: timers are never left in
  // the past.
  if (phase === "running" && input.kind !== "tick") tick(st);
  const next: CoreState = { phase, instances: st.instances, groups: state.groups, tracks: st.tracks };
  const wakeAtMs = checkInvariants(next, st.actions, nowMs);
  return { state: next, actions: st.actions, wakeAtMs };
}

function start(st: Step, resume: readonly string[]): void {
  // Four passes so a sync group starts in one state: fault first, then owners (who take their group
  // to master), then instances resumed after a restart (master again at once, keeping the VIPs the
  // kernel still holds: no backup has taken over yet), then everyone else as backup.
  const pass = (pick: (i: InstanceState) => boolean, go: (i: number) => void) => {
    for (let i = 0; i < st.instances.length; i++) {
      const inst = st.get(i);
      if (inst.role === "initialize" && pick(inst)) go(i);
    }
  };
  pass(
    (inst) => st.groupFaulted(inst.spec.name),
    (i) => st.toFault(i, "tracked object down at startup"),
  );
  pass(
    (inst) => inst.priority === 255,
    (i) => st.toMaster(i, "address owner (priority 255)"),
  );
  pass(
    (inst) => resume.includes(inst.spec.name),
    (i) => st.toMaster(i, "resumed after a restart (master within its down interval)"),
  );
  pass(
    () => true,
    (i) => st.toBackup(i, "startup"),
  );
}

function tick(st: Step): void {
  const now = st.now;
  for (let i = 0; i < st.instances.length; i++) {
    const inst = st.get(i);
    if (inst.role === "master" && inst.adverAt !== null && inst.adverAt <= now) {
      st.sendAdvert(i, inst.priority);
      // Keep the cadence (no drift from processing delay) but never schedule into the past.
      const period = intervalMs(inst.spec.advertIntervalCs);
      const nextAt = inst.adverAt + period > now ? inst.adverAt + period : now + period;
      st.set(i, { ...st.get(i), adverAt: nextAt });
    } else if (inst.role === "backup" && inst.masterDownAt !== null && inst.masterDownAt <= now) {
      st.toMaster(
        i,
        inst.masterResigned
          ? "the master resigned (priority 0); took over after skew time"
          : "master down timer expired",
      );
    }
    const after = st.get(i);
    if (after.role === "master" && after.garpRefreshAt !== null && after.garpRefreshAt <= now) {
      st.garp(i, 1);
      st.set(i, { ...st.get(i), garpRefreshAt: now + after.spec.garpRefreshMs });
    }
    const latest = st.get(i);
    if (latest.role === "master" && latest.garpSecondRoundAt !== null && latest.garpSecondRoundAt <= now) {
      st.garp(i);
      st.set(i, { ...st.get(i), garpSecondRoundAt: null });
    }
    const last = st.get(i);
    if (last.role === "master" && last.lowerAnswerDueAt !== null && last.lowerAnswerDueAt <= now) {
      answerLowerMaster(st, i);
    }
  }
}

function packet(st: Step, name: string, a: Advert): void {
  const i = st.index(name);
  if (i < 0) return;
  const inst = st.get(i);
  const now = st.now;
  if (inst.role === "backup") {
    if (a.priority === 0) {
      // RFC 5798 6.4.2: the master resigned; the best backup (smallest skew) takes over first.
      const downAt = now + skewMs(inst.spec.version, inst.priority, inst.masterAdverIntervalCs);
      st.set(i, {
        ...inst,
        masterDownAt: Math.min(downAt, inst.masterDownAt ?? downAt),
        masterResigned: true,
      });
      return;
    }
    let accept = !inst.spec.preempt || a.priority >= inst.priority;
    let preemptAt = a.priority >= inst.priority ? null : inst.preemptAt;
    if (!accept && inst.spec.preemptDelayMs > 0) {
      if (preemptAt === null) preemptAt = now + inst.spec.preemptDelayMs;
      accept = now < preemptAt;
    }
    if (accept) {
      st.set(i, {
        ...inst,
        masterAdverIntervalCs: a.intervalCs,
        masterDownAt: now + masterDownMs(inst.spec.version, inst.priority, a.intervalCs),
        masterResigned: false,
        masterAddress: a.source,
        preemptAt,
      });
    } else {
      st.set(i, { ...inst, preemptAt });
    }
    return;
  }
  if (inst.role === "master") {
    if (a.priority === 0) {
      // Another router resigned: speak now so the backups do not take over after their skew.
      st.sendAdvert(i, inst.priority);
      st.set(i, { ...st.get(i), adverAt: now + intervalMs(inst.spec.advertIntervalCs) });
      return;
    }
    const higher =
      a.priority > inst.priority ||
      (a.priority === inst.priority && compareIP(a.source, inst.spec.primaryAddress) > 0);
    if (higher) {
      st.toBackup(i, `higher priority master ${a.source} (priority ${a.priority})`, {
        learnedCs: a.intervalCs,
        master: a.source,
        deposed: true,
      });
      return;
    }
    // A lower-priority master (e.g. after a partition heals): answer at once and refresh the clients'
    // ARP caches, so it steps down within a network delay and traffic returns here. At most one answer
    // per quarter interval; one that falls inside goes out when the quarter ends, since the last lower
    // master to speak may be the one whose clients still need our GARPs.
    const dueAt = inst.lowerAnsweredAt + lowerAnswerGapMs(inst.spec);
    if (now >= dueAt) answerLowerMaster(st, i);
    else if (inst.lowerAnswerDueAt === null) st.set(i, { ...inst, lowerAnswerDueAt: dueAt });
  }
  // initialize / fault: adverts are ignored.
}

function lowerAnswerGapMs(spec: VrrpInstanceSpec): number {
  return intervalMs(spec.advertIntervalCs) / 4;
}

/** Master: an advert at our priority (the lower master steps down) and a GARP round (its clients move). */
function answerLowerMaster(st: Step, i: number): void {
  const inst = st.get(i);
  assert(inst.role === "master", `${inst.spec.name}: only a master answers a lower master`);
  st.sendAdvert(i, inst.priority);
  st.garp(i);
  st.set(i, {
    ...st.get(i),
    lowerAnsweredAt: st.now,
    lowerAnswerDueAt: null,
    adverAt: st.now + intervalMs(inst.spec.advertIntervalCs),
    garpSecondRoundAt: secondRoundAt(inst.spec, st.now),
  });
}

function retrack(st: Step, running: boolean, reason: string): void {
  for (let i = 0; i < st.instances.length; i++) {
    const before = st.get(i);
    const after = withTracking(before, st.tracks);
    st.set(i, after);
    if (!running) continue;
    if (after.priority !== before.priority && after.role === "master") {
      // Tell the backups now, so a preempting backup starts counting from this moment.
      st.sendAdvert(i, after.priority);
      st.set(i, { ...st.get(i), adverAt: st.now + intervalMs(after.spec.advertIntervalCs) });
    }
  }
  if (!running) return;
  for (let i = 0; i < st.instances.length; i++) {
    const inst = st.get(i);
    if (inst.faulted && inst.role !== "fault") st.toFault(i, `tracked ${reason}`);
  }
  for (let i = 0; i < st.instances.length; i++) {
    const inst = st.get(i);
    if (inst.role === "fault" && !st.groupFaulted(inst.spec.name)) {
      // Leave FAULT as a fresh backup; owners (255) go straight to master as at startup.
      if (inst.priority === 255) st.toMaster(i, `tracked ${reason}: recovered`);
      else st.toBackup(i, `tracked ${reason}: recovered`, { learnedCs: inst.spec.advertIntervalCs });
    }
  }
}

function admin(st: Step, input: Extract<CoreInput, { kind: "admin" }>, running: boolean): void {
  const i = st.index(input.instance);
  if (i < 0) return;
  if (input.priority !== undefined) {
    const p = input.priority;
    if (p !== null && !(Number.isInteger(p) && p >= 1 && p <= 255)) return; // typed check at the API edge too
    st.set(i, { ...st.get(i), adminPriority: p });
    retrack(st, running, `admin priority ${p ?? "cleared"}`);
  }
  if (input.resign && running && st.get(i).role === "master") {
    st.sendAdvert(i, 0);
    st.toBackup(i, "operator requested failover");
  }
}

function secondRoundAt(spec: VrrpInstanceSpec, now: number): number | null {
  return spec.garpSecondRoundMs > 0 ? now + spec.garpSecondRoundMs : null;
}

/** Checks the state after every step; returns the earliest timer. */
function checkInvariants(s: CoreState, actions: readonly CoreAction[], now: number): number {
  assert(actions.length <= MAX_ACTIONS_PER_INSTANCE * Math.max(1, s.instances.length) * 2, "bounded actions");
  let wake = Number.POSITIVE_INFINITY;
  for (const inst of s.instances) {
    const n = inst.spec.name;
    assert(inst.priority >= 1 && inst.priority <= 255, `${n}: priority in 1..255`);
    if (inst.role === "master") {
      assert(inst.adverAt !== null && inst.adverAt > now, `${n}: master has a future advert timer`);
      assert(inst.masterDownAt === null, `${n}: master has no down timer`);
      wake = Math.min(wake, inst.adverAt);
      if (inst.garpRefreshAt !== null) {
        assert(inst.garpRefreshAt > now, `${n}: GARP refresh timer in the future`);
        wake = Math.min(wake, inst.garpRefreshAt);
      }
      if (inst.garpSecondRoundAt !== null) {
        assert(inst.garpSecondRoundAt > now, `${n}: second GARP round in the future`);
        wake = Math.min(wake, inst.garpSecondRoundAt);
      }
      if (inst.lowerAnswerDueAt !== null) {
        assert(inst.lowerAnswerDueAt > now, `${n}: deferred answer to a lower master in the future`);
        wake = Math.min(wake, inst.lowerAnswerDueAt);
      }
    } else if (inst.role === "backup") {
      assert(inst.masterDownAt !== null && inst.masterDownAt > now, `${n}: backup has a future down timer`);
      assert(inst.adverAt === null, `${n}: backup has no advert timer`);
      wake = Math.min(wake, inst.masterDownAt);
    } else {
      assert(inst.adverAt === null && inst.masterDownAt === null, `${n}: ${inst.role} has no timers`);
    }
    if (inst.role !== "master") {
      assert(
        inst.garpRefreshAt === null && inst.garpSecondRoundAt === null && inst.lowerAnswerDueAt === null,
        `${n}: GARP timers only as master`,
      );
    }
    if (s.phase === "running" && inst.faulted) assert(inst.role === "fault", `${n}: faulted means FAULT`);
    if (inst.masterResigned) assert(inst.role === "backup", `${n}: only a backup waits out a resignation`);
  }
  if (s.phase === "running") {
    for (const g of s.groups) {
      const roles = new Set(g.instances.map((m) => s.instances.find((i) => i.spec.name === m)!.role));
      assert(roles.size === 1, `sync group ${g.name}: members in one state (${[...roles].join(",")})`);
    }
  }
  return wake;
}

/** A read-only view for the console and metrics. */
export function describe(s: CoreState): Array<{
  name: string;
  role: Role;
  priority: number;
  master: string | null;
  masterAdverIntervalCs: number;
}> {
  return s.instances.map((i) => ({
    name: i.spec.name,
    role: i.role,
    priority: i.priority,
    master: i.masterAddress,
    masterAdverIntervalCs: i.masterAdverIntervalCs,
  }));
}

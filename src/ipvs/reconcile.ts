// Reconciliation, pure: desired services vs a dump of the kernel -> the minimal list of IPVS changes.
// It adopts matching kernel entries, and deletes only entries it owns (created or adopted earlier), so a
// restart of fulcrum changes nothing that is already right and never flushes what an operator added by hand.
import {
  type DestKey,
  type DestSpec,
  destKeyString,
  type KernelService,
  type ServiceKey,
  type ServiceOptions,
  type ServiceSpec,
  sameDestOptions,
  sameServiceOptions,
  serviceKeyString,
} from "./model.ts";

export type IpvsOp =
  | { readonly op: "addService"; readonly key: ServiceKey; readonly options: ServiceOptions }
  | { readonly op: "editService"; readonly key: ServiceKey; readonly options: ServiceOptions }
  | { readonly op: "delService"; readonly key: ServiceKey }
  | { readonly op: "addDest"; readonly service: ServiceKey; readonly dest: DestSpec }
  | { readonly op: "editDest"; readonly service: ServiceKey; readonly dest: DestSpec }
  | { readonly op: "delDest"; readonly service: ServiceKey; readonly dest: DestKey };

/** What fulcrum owns in the kernel, as service keys and "service|dest" keys. Kept across restarts (in /run). */
export interface Ownership {
  readonly services: ReadonlySet<string>;
  readonly dests: ReadonlySet<string>;
}

export interface ReconcilePlan {
  readonly ops: readonly IpvsOp[];
  readonly owned: Ownership;
  /** Kernel entries fulcrum neither wants nor owns: left alone, reported so an operator can see them. */
  readonly foreign: readonly string[];
}

export const EMPTY_OWNERSHIP: Ownership = { services: new Set(), dests: new Set() };

export function ownedDestKey(service: ServiceKey, dest: DestKey): string {
  return `${serviceKeyString(service)}|${destKeyString(dest)}`;
}

// Order in which ops are sent: a service exists before its real servers; new real servers arrive before old
// ones leave (a swap never empties a pool); whole services go last.
const OP_ORDER: Record<IpvsOp["op"], number> = {
  addService: 0,
  editService: 1,
  addDest: 2,
  editDest: 3,
  delDest: 4,
  delService: 5,
};

export function planReconcile(
  desired: readonly ServiceSpec[],
  kernel: readonly KernelService[],
  owned: Ownership,
): ReconcilePlan {
  const ops: IpvsOp[] = [];
  const ownedServices = new Set(owned.services);
  const ownedDests = new Set(owned.dests);
  const foreign: string[] = [];
  const kernelByKey = new Map(kernel.map((s) => [serviceKeyString(s.key), s]));
  const desiredKeys = new Set<string>();

  for (const want of desired) {
    const key = serviceKeyString(want.key);
    if (desiredKeys.has(key)) throw new Error(`planReconcile: service ${key} is desired twice`);
    desiredKeys.add(key);
    planService(want, kernelByKey.get(key), ops, ownedServices, ownedDests, foreign);
  }

  for (const have of kernel) {
    const key = serviceKeyString(have.key);
    if (desiredKeys.has(key)) continue;
    if (ownedServices.has(key)) {
      ops.push({ op: "delService", key: have.key });
      ownedServices.delete(key);
      for (const d of have.dests) ownedDests.delete(ownedDestKey(have.key, d));
    } else {
      foreign.push(key);
    }
  }

  // Forget owned entries that vanished from the kernel and are no longer wanted (deleted by hand).
  for (const key of ownedServices) {
    if (!desiredKeys.has(key) && !kernelByKey.has(key)) ownedServices.delete(key);
  }
  const liveDests = new Set<string>();
  for (const s of kernel) for (const d of s.dests) liveDests.add(ownedDestKey(s.key, d));
  for (const s of desired) for (const d of s.dests) liveDests.add(ownedDestKey(s.key, d));
  for (const key of ownedDests) if (!liveDests.has(key)) ownedDests.delete(key);

  ops.sort((a, b) => OP_ORDER[a.op] - OP_ORDER[b.op]);
  return { ops, owned: { services: ownedServices, dests: ownedDests }, foreign };
}

/** Ownership entries a one-service plan takes on and gives up. */
export interface OwnershipDelta {
  readonly addServices: readonly string[];
  readonly addDests: readonly string[];
  readonly removeDests: readonly string[];
}

export interface ServicePlan {
  readonly ops: readonly IpvsOp[];
  readonly delta: OwnershipDelta;
  readonly foreign: readonly string[];
}

/**
 * One service alone (a health or operator change): the rest of the table and its ownership are untouched.
 * `have` is the service as the kernel holds it, if it does. Returns a delta rather than a copy of the
 * ownership sets, so a change in a table of 10,000 services costs what the one service costs.
 */
export function planServiceUpdate(
  want: ServiceSpec,
  have: KernelService | undefined,
  owned: Ownership,
): ServicePlan {
  const ops: IpvsOp[] = [];
  const foreign: string[] = [];
  const draftServices = new DraftSet(owned.services);
  const draftDests = new DraftSet(owned.dests);
  planService(want, have, ops, draftServices, draftDests, foreign);
  ops.sort((a, b) => OP_ORDER[a.op] - OP_ORDER[b.op]);
  return {
    ops,
    foreign,
    delta: {
      addServices: [...draftServices.added],
      addDests: [...draftDests.added],
      removeDests: [...draftDests.removed],
    },
  };
}

/** The set operations planning needs, over a read-only base, recording what changed. */
interface OwnedSet {
  has(key: string): boolean;
  add(key: string): void;
  delete(key: string): void;
}

class DraftSet implements OwnedSet {
  readonly added = new Set<string>();
  readonly removed = new Set<string>();
  constructor(private readonly base: ReadonlySet<string>) {}
  has(key: string): boolean {
    return this.added.has(key) || (this.base.has(key) && !this.removed.has(key));
  }
  add(key: string): void {
    this.removed.delete(key);
    if (!this.base.has(key)) this.added.add(key);
  }
  delete(key: string): void {
    this.added.delete(key);
    if (this.base.has(key)) this.removed.add(key);
  }
}

function planService(
  want: ServiceSpec,
  have: KernelService | undefined,
  ops: IpvsOp[],
  ownedServices: OwnedSet,
  ownedDests: OwnedSet,
  foreign: string[],
): void {
  ownedServices.add(serviceKeyString(want.key));
  if (have === undefined) {
    ops.push({ op: "addService", key: want.key, options: want.options });
  } else if (!sameServiceOptions(want.options, have.options)) {
    ops.push({ op: "editService", key: want.key, options: want.options });
  }
  const haveByKey = new Map((have?.dests ?? []).map((d) => [destKeyString(d), d]));
  const wantKeys = new Set<string>();
  for (const dest of want.dests) {
    const dk = destKeyString(dest);
    if (wantKeys.has(dk)) {
      throw new Error(`planReconcile: real server ${dk} is desired twice in ${serviceKeyString(want.key)}`);
    }
    wantKeys.add(dk);
    ownedDests.add(ownedDestKey(want.key, dest));
    const current = haveByKey.get(dk);
    if (current === undefined) ops.push({ op: "addDest", service: want.key, dest });
    else if (!sameDestOptions(dest, current)) ops.push({ op: "editDest", service: want.key, dest });
  }
  for (const [dk, current] of haveByKey) {
    if (wantKeys.has(dk)) continue;
    const ownKey = ownedDestKey(want.key, current);
    if (ownedDests.has(ownKey)) {
      ops.push({ op: "delDest", service: want.key, dest: current });
      ownedDests.delete(ownKey);
    } else {
      foreign.push(ownKey);
    }
  }
}

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

/**
 * One service alone (a health or operator change): the rest of the table and its ownership are untouched.
 * `have` is the service as the kernel holds it, if it does.
 */
export function planServiceUpdate(
  want: ServiceSpec,
  have: KernelService | undefined,
  owned: Ownership,
): ReconcilePlan {
  const ops: IpvsOp[] = [];
  const foreign: string[] = [];
  const services = new Set(owned.services);
  const dests = new Set(owned.dests);
  planService(want, have, ops, services, dests, foreign);
  ops.sort((a, b) => OP_ORDER[a.op] - OP_ORDER[b.op]);
  return { ops, owned: { services, dests }, foreign };
}

function planService(
  want: ServiceSpec,
  have: KernelService | undefined,
  ops: IpvsOp[],
  ownedServices: Set<string>,
  ownedDests: Set<string>,
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

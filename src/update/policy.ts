// May this box install this update? Pure: the manifest against what the box knows about itself.
import type { Manifest } from "./manifest.ts";
import { compareVersions, maxVersion } from "./version.ts";

export interface BoxFacts {
  readonly product: string;
  /** The running release. */
  readonly running: string;
  /** Anti-rollback floor recorded on /data (the newest release ever committed), if any. */
  readonly floor: string | undefined;
  /** Bytes of the inactive root slot. */
  readonly slotBytes: number;
  /** The operator explicitly asked to install below the floor. */
  readonly force: boolean;
}

export type PolicyVerdict =
  | { readonly ok: true; readonly downgrade: boolean }
  | { readonly ok: false; readonly reason: string };

export function checkPolicy(m: Manifest, box: BoxFacts): PolicyVerdict {
  if (m.product !== box.product)
    return { ok: false, reason: `update is for product '${m.product}', this box runs '${box.product}'` };
  const root = m.payloads.find((p) => p.name === "root");
  if (root === undefined) return { ok: false, reason: "update has no root payload" };
  if (root.size > box.slotBytes)
    return {
      ok: false,
      reason: `root payload is ${root.size} bytes; the inactive slot holds ${box.slotBytes}`,
    };
  if (compareVersions(m.version, box.running) === 0)
    return { ok: false, reason: `version ${m.version} is already running` };
  if (compareVersions(box.running, m.minVersion) < 0)
    return {
      ok: false,
      reason: `update ${m.version} needs at least ${m.minVersion} running (this box runs ${box.running}); install an intermediate release first`,
    };
  const floor = box.floor === undefined ? box.running : maxVersion(box.floor, box.running);
  const downgrade = compareVersions(m.version, floor) < 0;
  if (downgrade && !box.force)
    return {
      ok: false,
      reason: `downgrade refused: ${m.version} is older than ${floor} (anti-rollback); force it explicitly to install anyway`,
    };
  return { ok: true, downgrade };
}

// The inactive slot for applyArtifact's file-level tests: a temp file with known old bytes, and a target
// that records prepare/commit (the ESP's part) and keeps the UKI it was handed.
import { readFileSync, writeFileSync } from "node:fs";
import type { SlotTarget } from "../../src/update/apply.ts";

export function recordingSlot(device: string, oldSlot: Uint8Array) {
  writeFileSync(device, oldSlot);
  const calls: string[] = [];
  let uki: Uint8Array | undefined;
  const target: SlotTarget = {
    device,
    bytes: oldSlot.length,
    prepare: async (m) => {
      calls.push(`prepare ${m.version}`);
    },
    commit: async (m, u, downgrade) => {
      uki = u;
      calls.push(`commit ${m.version}${downgrade ? " downgrade" : ""}`);
      return `fulcrum_${m.version}+3.efi`;
    },
  };
  return {
    target,
    calls,
    uki: () => uki,
    slot: () => readFileSync(device),
    slotUnchanged: () => Buffer.compare(readFileSync(device), Buffer.from(oldSlot)) === 0,
  };
}

// The box's side of an update: which keys it trusts, which slot is inactive, and how the inactive
// slot and its boot entry are prepared and switched on (GPT label via sfdisk, UKI on the ESP).
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { sync } from "../../ffi/system.ts";
import { parseEd25519PublicKey } from "../config/sections/update.ts";
import { withEsp } from "../system/boot.ts";
import { diskOfPartition } from "../system/datapart.ts";
import { describeFailure, exec } from "../system/exec.ts";
import type { SlotTarget } from "./apply.ts";
import {
  EMPTY_SLOT_LABEL,
  entriesOf,
  entryFile,
  pickSlots,
  type SlotPartition,
  staleEntries,
  UKI_DIR,
} from "./layout.ts";
import type { Manifest } from "./manifest.ts";

/** Public keys baked into the image (one per file, base64 raw or PEM); the lab profile adds a test key. */
export const IMAGE_KEYS_DIR = "/usr/lib/fulcrum/keys";
const MAX_KEY_FILES = 32;
const SFDISK_TIMEOUT_MS = 30_000;

export function loadTrustedKeys(
  configKeys: readonly Uint8Array[],
  dir = IMAGE_KEYS_DIR,
): { keys: Uint8Array[]; problems: string[] } {
  const keys = [...configKeys];
  const problems: string[] = [];
  let files: string[] = [];
  try {
    files = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith(".pub"))
          .sort()
      : [];
  } catch (err) {
    problems.push(`cannot list ${dir}: ${String(err)}`);
  }
  for (const f of files.slice(0, MAX_KEY_FILES)) {
    try {
      const k = parseEd25519PublicKey(readFileSync(join(dir, f), "utf8").slice(0, 4096));
      if (typeof k === "string") problems.push(`${dir}/${f}: ${k}`);
      else keys.push(k);
    } catch (err) {
      problems.push(`${dir}/${f}: ${String(err)}`);
    }
  }
  return { keys, problems };
}

export async function findSlots(
  rootDevice: string,
): Promise<{ active: SlotPartition; inactive: SlotPartition }> {
  const disk = diskOfPartition(rootDevice);
  if (disk === undefined) throw new Error(`${rootDevice} is not a partition`);
  const r = await exec(["sfdisk", "--json", `/dev/${disk}`], { timeoutMs: SFDISK_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`sfdisk --json /dev/${disk}: ${describeFailure(r)}`);
  const pick = pickSlots(r.stdout, rootDevice);
  if (!pick.ok) throw new Error(pick.reason);
  return pick;
}

async function setLabel(slot: SlotPartition, label: string): Promise<void> {
  // sfdisk rewrites both GPT copies; the kernel's idea of the label updates at the next boot.
  const r = await exec(["sfdisk", "--no-reread", "--part-label", slot.disk, String(slot.number), label], {
    timeoutMs: SFDISK_TIMEOUT_MS,
  });
  if (r.code !== 0)
    throw new Error(`sfdisk --part-label ${slot.disk} ${slot.number} ${label}: ${describeFailure(r)}`);
  sync();
}

function writeFileDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, "w");
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface BoxTargetOptions {
  readonly rootDevice: string;
  readonly running: string;
  readonly inactive: SlotPartition;
  readonly tries: number;
}

/** The inactive slot and its boot entry on this box. */
export function boxTarget(o: BoxTargetOptions): SlotTarget {
  return {
    device: o.inactive.device,
    bytes: o.inactive.bytes,
    async prepare(): Promise<void> {
      // First make sure nothing can boot the slot we are about to overwrite: its UKI goes, its label too.
      withEsp(o.rootDevice, (esp) => {
        const dir = join(esp, UKI_DIR);
        for (const f of staleEntries(readdirSync(dir), o.running)) unlinkSync(join(dir, f));
        for (const f of readdirSync(dir).filter((f) => f.startsWith(".fulcrum_"))) unlinkSync(join(dir, f));
      });
      await setLabel(o.inactive, EMPTY_SLOT_LABEL);
    },
    async commit(m: Manifest, uki: Uint8Array, downgrade: boolean): Promise<string> {
      await setLabel(o.inactive, `fulcrum_${m.version}`);
      const entry = entryFile(m.version, o.tries);
      withEsp(o.rootDevice, (esp) => {
        const dir = join(esp, UKI_DIR);
        const tmp = join(dir, `.fulcrum_${m.version}.tmp`);
        writeFileDurably(tmp, uki);
        renameSync(tmp, join(dir, entry));
        // systemd-boot boots the newest version with tries left; an older release only comes first
        // when the running one is marked as out of tries (it is still booted if the new one fails).
        if (downgrade) {
          for (const f of entriesOf(readdirSync(dir), o.running))
            renameSync(join(dir, f), join(dir, entryFile(o.running, 0)));
        }
      });
      return entry;
    },
  };
}

/** Removes the boot entries of `version` (a release that failed its tries). */
export function removeEntries(rootDevice: string, version: string): string[] {
  return withEsp(rootDevice, (esp) => {
    const dir = join(esp, UKI_DIR);
    const gone = entriesOf(readdirSync(dir), version);
    for (const f of gone) unlinkSync(join(dir, f));
    return gone;
  });
}

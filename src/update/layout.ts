// Where things are on the box's disk, decided from what the disk says (pure parsers):
// - the root slots are the GPT partitions of type "root (x86-64)"; the active one is mounted on /,
//   the inactive one is the other (exactly two, or the updater refuses);
// - each slot's UKI on the ESP is EFI/Linux/fulcrum_<version>[+LEFT[-DONE]].efi (systemd-boot's boot
//   counting: it decrements LEFT and increments DONE on each try, and a boot is blessed by dropping both).

/** GPT type of "Root Partition (x86-64)" in the Discoverable Partitions Specification. */
export const ROOT_X86_64_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
export const EMPTY_SLOT_LABEL = "_empty";
export const UKI_DIR = "EFI/Linux";

export interface SlotPartition {
  readonly device: string; // "/dev/vda3"
  readonly disk: string; // "/dev/vda"
  readonly number: number; // 3
  readonly label: string;
  readonly bytes: number;
  readonly slot: "A" | "B";
}

export type SlotPick =
  | { readonly ok: true; readonly active: SlotPartition; readonly inactive: SlotPartition }
  | { readonly ok: false; readonly reason: string };

/** Picks active and inactive root slots from `sfdisk --json DISK` output. Pure. */
export function pickSlots(sfdiskJson: string, rootDevice: string): SlotPick {
  let table: { device?: string; sectorsize?: number; partitions?: Record<string, unknown>[] } | undefined;
  try {
    table = (JSON.parse(sfdiskJson) as { partitiontable?: typeof table }).partitiontable;
  } catch {
    return { ok: false, reason: "sfdisk output is not JSON" };
  }
  if (table?.device === undefined || !Array.isArray(table.partitions))
    return { ok: false, reason: "no partition table" };
  const sector = table.sectorsize ?? 512;
  const roots = table.partitions
    .filter((p) => typeof p["type"] === "string" && (p["type"] as string).toUpperCase() === ROOT_X86_64_TYPE)
    .map((p, i) => {
      const node = String(p["node"]);
      return {
        device: node,
        disk: table.device as string,
        number: Number(/(\d+)$/.exec(node)?.[1] ?? Number.NaN),
        label: typeof p["name"] === "string" ? (p["name"] as string) : "",
        bytes: Number(p["size"]) * sector,
        slot: i === 0 ? ("A" as const) : ("B" as const),
      };
    });
  if (roots.length !== 2)
    return { ok: false, reason: `expected 2 root slots on ${table.device}, found ${roots.length}` };
  const active = roots.find((r) => r.device === rootDevice);
  const inactive = roots.find((r) => r.device !== rootDevice);
  if (active === undefined || inactive === undefined)
    return {
      ok: false,
      reason: `the running root ${rootDevice} is not one of the root slots on ${table.device}`,
    };
  if (!Number.isInteger(inactive.number))
    return { ok: false, reason: `cannot tell the partition number of ${inactive.device}` };
  return { ok: true, active, inactive };
}

export interface UkiEntry {
  readonly file: string;
  readonly version: string;
  /** Tries left and done; undefined when the entry is blessed (not counted). */
  readonly left: number | undefined;
  readonly done: number | undefined;
}

const ENTRY_RE = /^fulcrum_([0-9.]+?)(?:\+(\d+)(?:-(\d+))?)?\.efi$/i;

export function parseEntry(file: string): UkiEntry | undefined {
  const m = ENTRY_RE.exec(file);
  if (m?.[1] === undefined) return undefined;
  return {
    file,
    version: m[1],
    left: m[2] === undefined ? undefined : Number(m[2]),
    done: m[3] === undefined ? undefined : Number(m[3]),
  };
}

export function entryFile(version: string, tries: number | undefined): string {
  return tries === undefined ? `fulcrum_${version}.efi` : `fulcrum_${version}+${tries}.efi`;
}

/** The UKIs an update removes before it overwrites the inactive slot: all but the running release's. */
export function staleEntries(files: readonly string[], running: string): string[] {
  return files.filter((f) => {
    const e = parseEntry(f);
    return e !== undefined && e.version !== running;
  });
}

/** The running release's entries (normally one). */
export function entriesOf(files: readonly string[], version: string): string[] {
  return files.filter((f) => parseEntry(f)?.version === version);
}

// Release versions are dotted numbers ("0.1.0.20261123152432"): compared field by field as integers,
// a missing field counting as 0. Anything else is not a version the updater accepts.

const VERSION_RE = /^\d{1,20}(\.\d{1,20}){0,7}$/;

export function isVersion(v: string): boolean {
  return VERSION_RE.test(v);
}

/** Negative when a < b, 0 when equal, positive when a > b. Both must satisfy isVersion. Pure. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(BigInt);
  const pb = b.split(".").map(BigInt);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0n;
    const y = pb[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function maxVersion(a: string, b: string): string {
  return compareVersions(a, b) >= 0 ? a : b;
}

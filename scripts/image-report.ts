// Prints what a build produced: times and sizes, from out/image/<profile>/manifest.json.
import { readFileSync } from "node:fs";
import type { ImageManifest } from "../qemu/artifacts.ts";

const path = process.argv[2];
if (path === undefined) {
  console.error("usage: image-report.ts MANIFEST");
  process.exit(2);
}
const m = JSON.parse(readFileSync(path, "utf8")) as ImageManifest;
const mib = (n: number | undefined): string => `${((n ?? 0) / 1048576).toFixed(1)} MiB`;
const s = m.sizes;
console.log(`image ${m.profile} ${m.version} (build ${m.build}) in ${path.replace(/\/manifest\.json$/, "")}`);
console.log(
  `  build time: bundle ${(m.buildMs.bundle / 1000).toFixed(1)} s, mkosi ${(m.buildMs.mkosi / 1000).toFixed(1)} s, total ${((m.buildMs.bundle + m.buildMs.mkosi) / 1000).toFixed(1)} s`,
);
console.log(
  `  disk image:  ${m.files.disk}  ${mib(s["disk"]?.bytes)} (${mib(s["disk"]?.allocated)} allocated)`,
);
console.log(
  `  root slot:   ${m.files.root}  ${mib(s["root"]?.bytes)} (${mib(s["root"]?.allocated)} used, erofs)`,
);
console.log(`  UKI:         ${m.files.uki}  ${mib(s["uki"]?.bytes)}`);
console.log(`  kernel:      ${m.files.kernel}  ${mib(s["kernel"]?.bytes)}`);
console.log(`  initrd:      ${m.files.initrd}  ${mib(s["initrd"]?.bytes)}`);
console.log(`  bun (baseline) ${mib(s["bun"]?.bytes)}, app bundle ${mib(s["fulcrum.js"]?.bytes)}`);
console.log(`  cmdline:     ${m.cmdline}`);

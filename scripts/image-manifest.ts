// Writes out/image/<profile>/manifest.json after a build: the artifact names, the kernel command line
// (read from the UKI, so direct boots use exactly what the UEFI path uses), sizes and build times.
// Usage (from scripts/image.sh): bun scripts/image-manifest.ts OUT PROFILE VERSION BUILD INPUTS BUNDLE_MS MKOSI_MS
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ImageManifest, MANIFEST_NAME, readPeSection } from "../qemu/artifacts.ts";

const [out, profile, version, build, inputs, bundleMs, mkosiMs] = process.argv.slice(2);
if (out === undefined || profile === undefined || version === undefined || mkosiMs === undefined) {
  console.error("usage: image-manifest.ts OUT PROFILE VERSION BUILD INPUTS BUNDLE_MS MKOSI_MS");
  process.exit(2);
}
const base = `fulcrum_${version}`;
const files = {
  disk: `${base}.raw`,
  uki: `${base}.efi`,
  kernel: `${base}.vmlinuz`,
  initrd: "fulcrum.initrd",
  root: `${base}.root.raw`,
  esp: `${base}.esp.raw`,
};
const sizes: Record<string, { bytes: number; allocated: number }> = {};
for (const [key, name] of Object.entries(files)) {
  const st = statSync(join(out, name)); // throws if mkosi did not make it: a broken build must fail here
  sizes[key] = { bytes: st.size, allocated: st.blocks * 512 };
}
const stage = join(import.meta.dir, "..", "out", "build", profile, "usr", "lib", "fulcrum");
for (const name of [
  "bun",
  "fulcrum.js",
  "fulcrum-init.js",
  "vrrp-worker.js",
  "fd-watch-worker.js",
  "update-worker.js",
])
  sizes[name] = { bytes: statSync(join(stage, name)).size, allocated: 0 };
const cmdline = new TextDecoder()
  .decode(readPeSection(new Uint8Array(readFileSync(join(out, files.uki))), ".cmdline"))
  .replace(/\0+$/, "")
  .trim();
const manifest: ImageManifest = {
  profile: profile === "lab" ? "lab" : "production",
  version,
  build: build ?? "unknown",
  inputs: inputs ?? "",
  cmdline,
  files,
  sizes,
  buildMs: { bundle: Number(bundleMs), mkosi: Number(mkosiMs) },
  builtAt: new Date().toISOString(),
};
writeFileSync(join(out, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);

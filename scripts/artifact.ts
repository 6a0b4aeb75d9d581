// `bun run artifact -- --key KEY.pem [--profile lab|production] [--min-version V] [--out FILE]`
// Packs the current build of a profile (out/image/<profile>: the root slot image and the UKI) into a
// signed update artifact (docs/update.md). `bun run image -- --sign-key KEY.pem` calls this after a build.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findImage, type ImageProfile } from "../qemu/artifacts.ts";
import { packArtifact, publicKeyOf, writeArtifact } from "../src/update/pack.ts";
import { keyFingerprint } from "../src/update/signature.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const keyPath = arg("key");
const profile = (arg("profile") ?? "production") as ImageProfile;
if (keyPath === undefined || (profile !== "lab" && profile !== "production")) {
  console.error(
    "usage: bun run artifact -- --key KEY.pem [--profile lab|production] [--min-version V] [--out FILE]",
  );
  process.exit(2);
}
const image = findImage(profile);
if (image === undefined) {
  console.error(`artifact: no ${profile} image built; run bun run image -- --profile ${profile}`);
  process.exit(1);
}
const m = image.manifest;
const t0 = performance.now();
const privateKeyPem = readFileSync(keyPath, "utf8");
const { manifest, parts } = packArtifact({
  root: new Uint8Array(readFileSync(join(image.dir, m.files.root))),
  uki: new Uint8Array(readFileSync(image.uki)),
  version: m.version,
  build: m.build,
  minVersion: arg("min-version") ?? "0",
  privateKeyPem,
});
const out = arg("out") ?? join(image.dir, `fulcrum_${m.version}.fupd`);
const bytes = await writeArtifact(out, parts);
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
console.log(
  `artifact: ${out}: ${manifest.version} (build ${manifest.build}), ${mib(bytes)} (root ${mib(manifest.payloads[0]?.size ?? 0)}, uki ${mib(manifest.payloads[1]?.size ?? 0)}), signed by ${keyFingerprint(publicKeyOf(privateKeyPem))} in ${Math.round(performance.now() - t0)} ms`,
);

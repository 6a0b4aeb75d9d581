// Update artifacts for guest tests and the benchmark, made from the lab image on the host. Releases
// other than the image's own are the same root with a UKI whose command line and os-release name
// another version (same length, so only section contents change): the box tells releases apart by
// the root partition label the UKI asks for, which the updater sets from the signed manifest.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ImageArtifacts, REPO_ROOT, readPeSection, replacePeSection } from "../../qemu/artifacts.ts";
import { compressPayload, DEFAULT_CHUNK_BYTES, packArtifact, writeArtifact } from "../../src/update/pack.ts";

/** The private half of the key lab images trust (image/profiles/lab-extra). Test-only. */
export const LAB_TEST_KEY_PEM = readFileSync(
  join(REPO_ROOT, "test/fixtures/update/lab-test-only.key.pem"),
  "utf8",
);

export function freshKeyPem(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
}

/** "0.1.0.20261123154755" + 2 -> "0.1.0.20261123154757" (the last field, same width). */
export function bumpVersion(version: string, by: number): string {
  const fields = version.split(".");
  const last = fields.pop() ?? "0";
  const next = (BigInt(last) + BigInt(by)).toString().padStart(last.length, "0");
  if (next.length !== last.length) throw new Error(`cannot bump ${version} by ${by} at the same width`);
  return [...fields, next].join(".");
}

/** The image's UKI, made to boot `version` (and, if given, with `extraCmdline` appended). */
export function ukiFor(image: ImageArtifacts, version: string, extraCmdline = ""): Uint8Array {
  let pe: Uint8Array = new Uint8Array(readFileSync(image.uki));
  const from = image.manifest.version;
  if (version.length !== from.length) throw new Error("test releases keep the version's length");
  for (const section of [".cmdline", ".osrel"]) {
    let text = new TextDecoder().decode(readPeSection(pe, section)).replaceAll(from, version);
    if (section === ".cmdline" && extraCmdline !== "") text = `${text.replace(/\0+$/, "")} ${extraCmdline}\0`;
    pe = replacePeSection(pe, section, new TextEncoder().encode(text));
  }
  return pe;
}

const roots = new Map<string, { raw: Uint8Array; compressed: Uint8Array[] }>();

/** The image's root slot, raw and compressed (in chunks) once per image. */
function rootOf(image: ImageArtifacts): { raw: Uint8Array; compressed: Uint8Array[] } {
  let r = roots.get(image.dir);
  if (r === undefined) {
    const raw = new Uint8Array(readFileSync(join(image.dir, image.manifest.files.root)));
    r = { raw, compressed: compressPayload(raw, DEFAULT_CHUNK_BYTES, 3) };
    roots.set(image.dir, r);
  }
  return r;
}

export interface TestRelease {
  readonly version: string;
  readonly path: string;
  readonly bytes: number;
}

/** Packs and writes a signed artifact of the image's root with a UKI for `version`. */
export async function writeTestRelease(
  image: ImageArtifacts,
  dir: string,
  o: { version: string; name: string; keyPem?: string; extraCmdline?: string },
): Promise<TestRelease> {
  const root = rootOf(image);
  const { parts } = packArtifact({
    root: root.raw,
    compressedRoot: root.compressed,
    uki: ukiFor(image, o.version, o.extraCmdline),
    version: o.version,
    build: `test-${o.name}`,
    minVersion: "0",
    privateKeyPem: o.keyPem ?? LAB_TEST_KEY_PEM,
  });
  const path = join(dir, `${o.name}.fupd`);
  return { version: o.version, path, bytes: await writeArtifact(path, parts) };
}

// The image build's outputs as the harness sees them: out/image/<profile>/manifest.json names the disk
// image and the split artifacts (kernel, initrd, UKI, root) and the kernel command line of the UKI.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir, "..");
export const MANIFEST_NAME = "manifest.json";
export type ImageProfile = "production" | "lab";

export interface ImageManifest {
  readonly profile: ImageProfile;
  readonly version: string;
  readonly build: string;
  /** Hash of every build input (scripts/image.sh): equal hashes mean equal images. */
  readonly inputs: string;
  /** The UKI's .cmdline: what the UEFI path boots with; direct boots use the same. */
  readonly cmdline: string;
  readonly files: {
    readonly disk: string;
    readonly uki: string;
    readonly kernel: string;
    readonly initrd: string;
    readonly root: string;
    readonly esp: string;
  };
  readonly sizes: Readonly<Record<string, { bytes: number; allocated: number }>>;
  readonly buildMs: { readonly bundle: number; readonly mkosi: number };
  readonly builtAt: string;
}

export interface ImageArtifacts {
  readonly manifest: ImageManifest;
  readonly dir: string;
  readonly disk: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly uki: string;
}

export function imageDir(profile: ImageProfile): string {
  return join(REPO_ROOT, "out", "image", profile);
}

/** The built image of `profile`, or undefined when none has been built. */
export function findImage(profile: ImageProfile): ImageArtifacts | undefined {
  if (!existsSync(join(imageDir(profile), MANIFEST_NAME))) return undefined;
  // Resolve the out/image/<profile> symlink: a guest's overlay must name the build it started from,
  // which stays put when a newer build becomes current.
  const dir = realpathSync(imageDir(profile));
  const path = join(dir, MANIFEST_NAME);
  const manifest = JSON.parse(readFileSync(path, "utf8")) as ImageManifest;
  const art = {
    manifest,
    dir,
    disk: join(dir, manifest.files.disk),
    kernel: join(dir, manifest.files.kernel),
    initrd: join(dir, manifest.files.initrd),
    uki: join(dir, manifest.files.uki),
  };
  for (const f of [art.disk, art.kernel, art.initrd, art.uki]) if (!existsSync(f)) return undefined;
  return art;
}

/**
 * The image of `profile`, building it first if needed (scripts/image.sh: cached on its inputs, so an
 * unchanged tree costs a copy). Output goes to the given sink so tests can show build progress.
 */
export async function ensureImage(
  profile: ImageProfile,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<ImageArtifacts> {
  const proc = Bun.spawn(["bash", join(REPO_ROOT, "scripts", "image.sh"), "--profile", profile], {
    cwd: REPO_ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const pump = async (stream: ReadableStream<Uint8Array>): Promise<string> => {
    let all = "";
    for await (const chunk of stream) {
      const text = new TextDecoder().decode(chunk);
      all += text;
      for (const line of text.split("\n")) if (line.trim() !== "") log(`[image] ${line}`);
    }
    return all;
  };
  const [, errText] = await Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const code = await proc.exited;
  if (code !== 0)
    throw new Error(`image build (${profile}) failed with exit ${code}: ${errText.slice(-2000)}`);
  const art = findImage(profile);
  if (art === undefined)
    throw new Error(`image build (${profile}) succeeded but left no manifest in ${imageDir(profile)}`);
  return art;
}

interface PeSection {
  /** Offset of the 40-byte section header. */
  readonly header: number;
  readonly rawPtr: number;
  readonly rawSize: number;
  readonly length: number;
}

function findPeSection(pe: Uint8Array, name: string): PeSection {
  const view = new DataView(pe.buffer, pe.byteOffset, pe.byteLength);
  const bad = (why: string): never => {
    throw new Error(`not a PE image: ${why}`);
  };
  if (pe.byteLength < 0x40 || view.getUint16(0, true) !== 0x5a4d) bad("no MZ header");
  const peOff = view.getUint32(0x3c, true);
  if (peOff + 24 > pe.byteLength || view.getUint32(peOff, true) !== 0x00004550) bad("no PE signature");
  const sections = view.getUint16(peOff + 6, true);
  const optSize = view.getUint16(peOff + 20, true);
  const table = peOff + 24 + optSize;
  for (let i = 0; i < sections; i++) {
    const h = table + i * 40;
    if (h + 40 > pe.byteLength) bad("section table past the end");
    const raw = pe.subarray(h, h + 8);
    const end = raw.indexOf(0);
    const secName = new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
    if (secName !== name) continue;
    const virtualSize = view.getUint32(h + 8, true);
    const rawSize = view.getUint32(h + 16, true);
    const rawPtr = view.getUint32(h + 20, true);
    const length = Math.min(virtualSize || rawSize, rawSize);
    if (rawPtr + rawSize > pe.byteLength) bad(`section ${name} past the end`);
    return { header: h, rawPtr, rawSize, length };
  }
  return bad(`PE image has no ${name} section`);
}

/** The bytes of one section of a PE file (a UKI's .cmdline, .osrel, ...). Throws on a malformed file. */
export function readPeSection(pe: Uint8Array, name: string): Uint8Array {
  const s = findPeSection(pe, name);
  return pe.slice(s.rawPtr, s.rawPtr + s.length);
}

/**
 * A copy of the PE file with one section's content replaced (it must fit in the section's raw size;
 * the virtual size is set to the new length). For test UKIs that differ from a build only in their
 * command line or os-release.
 */
export function replacePeSection(pe: Uint8Array, name: string, content: Uint8Array): Uint8Array {
  const s = findPeSection(pe, name);
  if (content.length > s.rawSize)
    throw new Error(`section ${name} holds ${s.rawSize} bytes; ${content.length} do not fit`);
  const out = pe.slice();
  out.fill(0, s.rawPtr, s.rawPtr + s.rawSize);
  out.set(content, s.rawPtr);
  new DataView(out.buffer).setUint32(s.header + 8, content.length, true);
  return out;
}

// Update apply speed against the incumbent: `dd` of the same payload onto the same disk. Prints both,
// side by side, from one run on this host (goal: apply within 1.5x of dd).
//   bun bench/update.ts [--runs N] [--dir DIR]
// The payload is the lab image's real root slot (400 MiB) and UKI, packed and signed as a release
// would be. "Same disk": both write into the same preallocated slot file and UKI file in DIR (default
// /var/tmp, on the host's disk), and both end with fsync.
//   dd:    dd if=root.raw of=SLOT bs=4M conv=notrunc,fsync; dd if=uki.efi of=UKI bs=4M conv=fsync
//   apply: applyArtifact from a local file: header + signature + policy, check every compressed chunk's
//          SHA-256 (step 2), then on one worker per core check each chunk again, zstd-decompress it and
//          write it at its offset in SLOT (fsync) or into memory (the UKI), write the UKI (fsync).
//          What the box does, minus sfdisk's label change.
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { findImage } from "../qemu/artifacts.ts";
import { applyArtifact } from "../src/update/apply.ts";
import { defaultWorkerCount } from "../src/update/chunk-pool.ts";
import { packArtifact, publicKeyOf, writeArtifact } from "../src/update/pack.ts";
import { LAB_TEST_KEY_PEM } from "../test/helpers/update.ts";

const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf("--runs") + 1] ?? "") || 3;
const base = argv.includes("--dir") ? (argv[argv.indexOf("--dir") + 1] ?? "/var/tmp") : "/var/tmp";
const dir = join(base, `fulcrum-bench-update-${process.pid}`);

const image = findImage("lab") ?? findImage("production");
if (image === undefined) {
  console.error("bench/update: build an image first (bun run image -- --profile lab)");
  process.exit(1);
}
const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

mkdirSync(dir, { recursive: true });
try {
  const rootPath = join(image.dir, image.manifest.files.root);
  const root = new Uint8Array(await Bun.file(rootPath).arrayBuffer());
  const uki = new Uint8Array(await Bun.file(image.uki).arrayBuffer());
  const t0 = performance.now();
  const { manifest, parts } = packArtifact({
    root,
    uki,
    version: image.manifest.version,
    build: image.manifest.build,
    minVersion: "0",
    privateKeyPem: LAB_TEST_KEY_PEM,
  });
  const artifact = join(dir, "release.fupd");
  const artifactBytes = await writeArtifact(artifact, parts);
  const packMs = performance.now() - t0;
  const slot = join(dir, "slot.img");
  const ukiOut = join(dir, "uki.efi");
  const fd = openSync(slot, "w");
  ftruncateSync(fd, root.length);
  fsyncSync(fd);
  closeSync(fd);

  const dd = async (): Promise<number> => {
    const s = performance.now();
    for (const [from, to, extra] of [
      [rootPath, slot, "conv=notrunc,fsync"],
      [image.uki, ukiOut, "conv=fsync"],
    ] as const) {
      const p = Bun.spawn(["dd", `if=${from}`, `of=${to}`, "bs=4M", extra, "status=none"], {
        stderr: "inherit",
      });
      if ((await p.exited) !== 0) throw new Error("dd failed");
    }
    return performance.now() - s;
  };
  const apply = async (): Promise<number> => {
    const s = performance.now();
    const r = await applyArtifact({
      source: artifact,
      trustedKeys: [publicKeyOf(LAB_TEST_KEY_PEM)],
      facts: { product: "fulcrum", running: "0", floor: undefined },
      force: false,
      target: {
        device: slot,
        bytes: root.length,
        prepare: async () => {},
        commit: async (_m, bytes) => {
          const out = openSync(ukiOut, "w");
          writeSync(out, bytes);
          fsyncSync(out);
          closeSync(out);
          return "bench";
        },
      },
      stagingPath: join(dir, "staging"),
    });
    if (!r.ok) throw new Error(`apply failed: ${r.reason}`);
    return performance.now() - s;
  };

  const ddTimes: number[] = [];
  const applyTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    ddTimes.push(await dd());
    applyTimes.push(await apply());
  }
  const payload = manifest.payloads.reduce((n, p) => n + p.size, 0);
  const ratio = median(applyTimes) / median(ddTimes);
  console.log(
    `update apply vs dd, ${runs} run(s) each, alternating, into ${dir} (host disk, fsync at the end)`,
  );
  const chunks = manifest.payloads.reduce((n, p) => n + p.chunks.length, 0);
  console.log(
    `payload: root ${mib(root.length)} + UKI ${mib(uki.length)} = ${mib(payload)}; artifact ${mib(artifactBytes)} (${chunks} chunks of ${mib(manifest.payloads[0]?.chunkSize ?? 0)}, zstd -6, packed + signed in ${sec(packMs)}); ${defaultWorkerCount()} workers`,
  );
  console.log(
    `  dd (same payload, bs=4M, fsync)      median ${sec(median(ddTimes))}  [${ddTimes.map(sec).join(", ")}]  ${mib(payload / (median(ddTimes) / 1000))}/s`,
  );
  console.log(
    `  fulcrum apply (verify, unzstd)       median ${sec(median(applyTimes))}  [${applyTimes.map(sec).join(", ")}]  ${mib(payload / (median(applyTimes) / 1000))}/s`,
  );
  console.log(`  apply / dd = ${ratio.toFixed(2)}x (goal < 1.5x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

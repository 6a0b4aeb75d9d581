// Image and boot benchmark. Prints: image build time (warm caches), image and root sizes, and the time
// from QEMU start to "fulcrum ready" under TCG on the direct path and the full UEFI path, for fulcrum's
// image and for the incumbent: a stock systemd image of the same packages (bench/boot-stock) that
// starts the same app as a service. Root only (mkosi, QEMU). Goal: direct path ready within 10 s.
// Each is booted as a 2-vCPU guest (the smallest box a load balancer runs on) and as a 1-vCPU guest (the
// tests' shape, the worst case: under TCG, PID 1's duties and the daemon's start then share one thread).
//   bun bench/boot.ts [--runs N] [--no-stock] [--vcpus 2,1]
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  findImage,
  type ImageArtifacts,
  type ImageManifest,
  REPO_ROOT,
  readPeSection,
} from "../qemu/artifacts.ts";
import { Guest } from "../qemu/guest.ts";

const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf("--runs") + 1] ?? "") || 3;
const withStock = !argv.includes("--no-stock");
const vcpuCounts = (argv.includes("--vcpus") ? (argv[argv.indexOf("--vcpus") + 1] ?? "") : "2,1")
  .split(",")
  .map(Number)
  .filter((n) => Number.isInteger(n) && n >= 1 && n <= 8);
const READY_TIMEOUT_MS = 300_000;
const POWEROFF_TIMEOUT_MS = 60_000;
const STOCK_OUT = join(REPO_ROOT, "out", "bench", "stock");

async function sh(cmd: string[], cwd = REPO_ROOT): Promise<{ code: number; ms: number; out: string }> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  return { code, ms: performance.now() - t0, out: out + err };
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/**
 * First boots (a fresh disk each run). With `rebootsTo`, each run then powers the box off through the
 * ACPI power button (orderly, as an operator's reboot) and boots the same disk again; those times, the
 * boots every later power-on sees (the data partition exists), are pushed onto `rebootsTo`.
 */
async function bootTimes(
  image: ImageArtifacts,
  boot: "direct" | "uefi",
  label: string,
  smp: number,
  rebootsTo?: number[],
): Promise<number[]> {
  const times: number[] = [];
  const reboots: number[] = [];
  const options = {
    name: `flab-bench-${label}`,
    image,
    boot,
    workDir: `/run/flab-bench/${label}`,
    memMiB: 1024,
    smp,
  };
  for (let i = 0; i < runs; i++) {
    let guest = await Guest.start(options);
    try {
      times.push(await guest.waitReady(READY_TIMEOUT_MS));
      if (rebootsTo !== undefined) {
        await guest.qmp("system_powerdown");
        const off = await Promise.race([guest.exited, Bun.sleep(POWEROFF_TIMEOUT_MS).then(() => null)]);
        if (off === null)
          throw new Error(`${label}: no power-off within ${POWEROFF_TIMEOUT_MS} ms of the power button`);
        await guest.kill(); // already off: this only closes its sockets
        guest = await Guest.start({ ...options, reuseDisk: true });
        reboots.push(await guest.waitReady(READY_TIMEOUT_MS));
      }
    } finally {
      await guest.kill();
      guest.cleanup();
    }
  }
  const line = (what: string, xs: number[]) =>
    console.log(
      `  ${`${what}, ${smp} vCPU`.padEnd(36)} ${xs.map(sec).join(", ")}  (median ${sec(median(xs))})`,
    );
  line(label, times);
  if (rebootsTo !== undefined) {
    line(`${label}, later boots`, reboots);
    rebootsTo.push(...reboots);
  }
  return times;
}

/** The stock image's artifacts, shaped like ours so the same harness boots it. */
function stockArtifacts(): ImageArtifacts {
  const files = readdirSync(STOCK_OUT);
  const pick = (suffix: string): string => {
    const f = files.find((n) => n.endsWith(suffix));
    if (f === undefined) throw new Error(`stock image: no *${suffix} in ${STOCK_OUT}`);
    return join(STOCK_OUT, f);
  };
  const uki = pick(".efi");
  const cmdline = new TextDecoder()
    .decode(readPeSection(new Uint8Array(readFileSync(uki)), ".cmdline"))
    .replace(/\0+$/, "")
    .trim();
  const disk = files.find((n) => n.endsWith(".raw") && !n.includes(".root") && !n.includes(".esp"));
  if (disk === undefined) throw new Error("stock image: no disk image");
  return {
    manifest: { cmdline } as ImageManifest,
    dir: STOCK_OUT,
    disk: join(STOCK_OUT, disk),
    kernel: pick(".vmlinuz"),
    initrd: pick(".initrd"),
    uki,
  };
}

console.log(
  `fulcrum boot benchmark (TCG, ${runs} run(s) each; host load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`,
);

// 1. Image build with warm caches (mkosi package and incremental caches; the finished-image cache is bypassed).
const warmup = await sh(["bash", "scripts/image.sh", "--profile", "production"]);
if (warmup.code !== 0) throw new Error(`image build failed:\n${warmup.out}`);
const build = await sh(["bash", "scripts/image.sh", "--profile", "production", "--force"]);
if (build.code !== 0) throw new Error(`image build failed:\n${build.out}`);
const image = findImage("production");
if (image === undefined) throw new Error("no production image after the build");
const m = image.manifest;
console.log("\nimage (production profile)");
console.log(
  `  build, warm caches      ${sec(build.ms)} (bundle ${sec(m.buildMs.bundle)}, mkosi ${sec(m.buildMs.mkosi)})`,
);
console.log(
  `  disk image              ${mib(m.sizes["disk"]?.bytes ?? 0)} raw, ${mib(m.sizes["disk"]?.allocated ?? 0)} allocated`,
);
console.log(
  `  root (erofs, one slot)  ${mib(m.sizes["root"]?.allocated ?? 0)} used of ${mib(m.sizes["root"]?.bytes ?? 0)}`,
);
console.log(
  `  UKI                     ${mib(m.sizes["uki"]?.bytes ?? 0)} (kernel ${mib(m.sizes["kernel"]?.bytes ?? 0)}, initrd ${mib(m.sizes["initrd"]?.bytes ?? 0)})`,
);
console.log(
  `  Bun baseline + bundle   ${mib(m.sizes["bun"]?.bytes ?? 0)} + ${mib(m.sizes["fulcrum.js"]?.bytes ?? 0)}`,
);

console.log(
  '\nQEMU start -> "fulcrum ready" (first boot: includes creating and formatting the data partition;\n' +
    "later boots: the same disk after an orderly power-off through the ACPI power button)",
);
interface Shape {
  readonly smp: number;
  readonly direct: number[];
  /** Direct path, the same disk booted again after an orderly power-off. */
  readonly directLater: number[];
  readonly uefi: number[];
  stockDirect: number[];
  stockUefi: number[];
}
const shapes: Shape[] = [];
for (const smp of vcpuCounts) {
  const directLater: number[] = [];
  shapes.push({
    smp,
    direct: await bootTimes(image, "direct", "fulcrum direct", smp, directLater),
    directLater,
    uefi: await bootTimes(image, "uefi", "fulcrum UEFI", smp),
    stockDirect: [],
    stockUefi: [],
  });
}

if (withStock) {
  const t = await sh([
    "mkosi",
    "-C",
    "bench/boot-stock",
    "--force",
    `--output-dir=${STOCK_OUT}`,
    "--cache-dir=/var/cache/fulcrum/mkosi/stock",
    "--package-cache-dir=/var/cache/fulcrum/mkosi-packages",
    `--extra-tree=${join(REPO_ROOT, "out", "build", "production")}`,
    "build",
  ]);
  if (t.code !== 0 || !existsSync(STOCK_OUT))
    throw new Error(`stock image build failed:\n${t.out.slice(-3000)}`);
  const stock = stockArtifacts();
  console.log(`\nincumbent: stock systemd image of the same packages (built in ${sec(t.ms)})`);
  console.log(`  disk image              ${mib(Bun.file(stock.disk).size)} raw`);
  for (const shape of shapes) {
    shape.stockDirect = await bootTimes(stock, "direct", "stock systemd direct", shape.smp);
    shape.stockUefi = await bootTimes(stock, "uefi", "stock systemd UEFI", shape.smp);
  }
}

console.log("\nsummary (median)");
for (const { smp, direct, directLater, uefi, stockDirect, stockUefi } of shapes) {
  const goal = (ms: number) => (ms <= 10_000 ? "meets" : "MISSES");
  console.log(
    `  ${smp} vCPU, direct: fulcrum ${sec(median(direct))} first boot (${goal(median(direct))} the 10 s goal), ${sec(median(directLater))} later boots (${goal(median(directLater))})${withStock ? `, stock systemd ${sec(median(stockDirect))}, ${(median(stockDirect) / median(direct)).toFixed(1)}x` : ""}`,
  );
  console.log(
    `  ${smp} vCPU, UEFI:   fulcrum ${sec(median(uefi))}${withStock ? `, stock systemd ${sec(median(stockUefi))}, ${(median(stockUefi) / median(uefi)).toFixed(1)}x` : ""}`,
  );
}

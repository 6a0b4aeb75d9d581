// Where a Worker's module is, in each way fulcrum runs:
//   from source (bun src/main.ts, bun test): next to the module that starts it, as .ts;
//   as the image's bundle (/usr/lib/fulcrum/fulcrum.js): a separate bundle next to it (scripts/image.sh
//     builds each worker as <bundledName>.js). Found from the entry point, not the module: the image's
//     bundle is CommonJS (to ship as bytecode), where import.meta.url is the module's build-time path;
//   as a `bun build --compile` executable: embedded under /$bunfs/root at its source path.
export function workerUrl(
  moduleUrl: string,
  sourcePath: string,
  bundledName: string,
  entryPoint: string = Bun.main,
): string {
  if (moduleUrl.startsWith("file:///$bunfs/")) return `/$bunfs/root/${sourcePath}`;
  if (entryPoint.endsWith(".js")) {
    return new URL(`./${bundledName}.js`, new URL(entryPoint, "file:///")).href;
  }
  const file = sourcePath.slice(sourcePath.lastIndexOf("/") + 1);
  return new URL(`./${file}`, moduleUrl).href;
}

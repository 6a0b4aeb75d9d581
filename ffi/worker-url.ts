// Where a Worker's module is, in each way fulcrum runs:
//   from source (bun src/main.ts): next to the module that starts it, as .ts;
//   as the image's bundle (/usr/lib/fulcrum/fulcrum.js): a separate bundle next to it (scripts/image.sh
//     builds each worker as <bundledName>.js), since every module of a bundle shares the bundle's URL;
//   as a `bun build --compile` executable: embedded under /$bunfs/root at its source path.
export function workerUrl(moduleUrl: string, sourcePath: string, bundledName: string): string {
  if (moduleUrl.startsWith("file:///$bunfs/")) return `/$bunfs/root/${sourcePath}`;
  if (moduleUrl.endsWith(".ts")) {
    const file = sourcePath.slice(sourcePath.lastIndexOf("/") + 1);
    return new URL(`./${file}`, moduleUrl).href;
  }
  return new URL(`./${bundledName}.js`, moduleUrl).href;
}

// Standalone VRRP runner: the same Worker, core and adapter that `fulcrum run` uses, driven by a JSON file.
// For the namespace tests and benchmarks until the full daemon wires VRRP in.
//   bun src/vrrp/standalone.ts SPEC.json
// SPEC.json: { "instances": [VrrpInstanceInput...], "sync_groups": [{ "name", "instances" }], "notify": {...} }
// stdout: one JSON line per event ({"event":"vrrp.state",...}, {"event":"vrrp.ready"}, {"event":"vrrp.stats"}).
// stdin (optional): JSON lines {"track":"svc:web","up":false} | {"admin":"vi","priority":1,"resign":true}
//   | {"stats":true}.
// SIGTERM/SIGINT: resign with priority 0, remove the VIPs, exit 0.
import { readFileSync } from "node:fs";
import { resolveSpecs } from "./config.ts";
import type { NotifyConfig } from "./notify.ts";
import { startVrrp } from "./service.ts";
import type { VrrpInstanceInput } from "./spec.ts";
import type { SyncGroupSpec } from "./types.ts";

interface StandaloneFile {
  readonly instances: readonly VrrpInstanceInput[];
  readonly sync_groups?: readonly SyncGroupSpec[];
  readonly notify?: NotifyConfig;
}

const out = (o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ...o, t: Date.now() })}\n`);

async function main(path: string): Promise<number> {
  const file = JSON.parse(readFileSync(path, "utf8")) as StandaloneFile;
  const specs = await resolveSpecs(file.instances);
  const handle = await startVrrp(specs, file.sync_groups ?? [], {
    ...(file.notify ? { notify: file.notify } : {}),
    onEvent: (e) => out({ event: "vrrp.state", ...e.change, at: e.atMs }),
    onLog: (level, msg, data) => out({ event: "vrrp.log", level, msg, data }),
    onNotify: (o) => out({ event: "vrrp.notify", ...o }),
  });
  out({ event: "vrrp.ready", pid: process.pid });
  readCommands(handle);
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
    void handle.done.then((err) => resolve(err ? `worker failed: ${err.message}` : "worker stopped"));
  });
  out({ event: "vrrp.stopping", reason: signal });
  await handle.stop();
  out({ event: "vrrp.stats", stats: handle.lastStats() });
  return signal.startsWith("worker failed") ? 1 : 0;
}

function readCommands(handle: Awaited<ReturnType<typeof startVrrp>>): void {
  if (process.stdin.isTTY) return;
  let buffered = "";
  process.stdin.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    if (buffered.length > 1 << 20) buffered = ""; // bounded: a runaway writer cannot grow this
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      if (!line) continue;
      try {
        const c = JSON.parse(line) as Record<string, unknown>;
        if (typeof c["track"] === "string") handle.track(c["track"], c["up"] === true);
        else if (typeof c["admin"] === "string") {
          const p = c["priority"];
          handle.admin(c["admin"], {
            ...(typeof p === "number" || p === null ? { priority: p } : {}),
            ...(c["resign"] === true ? { resign: true } : {}),
          });
        } else if (c["stats"]) void handle.stats().then((s) => out({ event: "vrrp.stats", stats: s }));
      } catch (e) {
        out({ event: "vrrp.log", level: "warn", msg: `bad command line: ${String(e)}` });
      }
    }
  });
  process.stdin.on("error", () => {});
}

if (import.meta.main) {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write("usage: bun src/vrrp/standalone.ts SPEC.json\n");
    process.exit(2);
  }
  main(path).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(
        `fulcrum vrrp: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}

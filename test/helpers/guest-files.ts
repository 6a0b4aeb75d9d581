// Copying a file into a lab guest through its debug shell (one-line commands only): base64 in bounded
// chunks, decoded by busybox inside the guest. Used for test configs and benchmark agents.
import type { GuestShell } from "../../qemu/console.ts";

const CHUNK_CHARS = 3000;

export async function pushFile(shell: GuestShell, path: string, content: Uint8Array | string): Promise<void> {
  if (!/^\/[\w./-]+$/.test(path)) throw new Error(`pushFile: unsafe guest path ${path}`);
  const b64 = Buffer.from(content).toString("base64");
  const tmp = `${path}.b64`;
  await shell.check(`rm -f ${tmp}`);
  for (let i = 0; i < b64.length; i += CHUNK_CHARS) {
    await shell.check(`printf %s '${b64.slice(i, i + CHUNK_CHARS)}' >> ${tmp}`);
  }
  await shell.check(`busybox base64 -d ${tmp} > ${path} && rm -f ${tmp}`);
}

/** Runs `command` in the guest until `accept(output)` holds or the deadline passes; returns the output. */
export async function waitInGuest(
  shell: GuestShell,
  command: string,
  accept: (output: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const out = (await shell.run(command, timeoutMs)).output;
    if (accept(out)) return out;
    if (performance.now() > deadline)
      throw new Error(`guest: '${command}' never satisfied; last output:\n${out}`);
    await Bun.sleep(200);
  }
}

// `bun run lab`: the whole two-box DR lab in one command. Builds the lab image if it is missing or
// stale, boots boxes A and B with the example DR config, three real servers and a client in network
// namespaces, shows what works, then attaches you to box A's serial console. Ctrl-] leaves, and
// everything (guests, namespaces, taps) is torn down on the way out, whatever happened.
//   bun run lab [-- --uefi] [--no-attach]
import { ensureImage } from "./artifacts.ts";
import { drLabOptions, Lab, leftovers, sweepLab, VIP } from "./lab.ts";

const PREFIX = "flab-lab-";
const args = new Set(process.argv.slice(2));
const boot = args.has("--uefi") ? "uefi" : "direct";
const attach = !args.has("--no-attach") && process.stdin.isTTY === true;

function say(line: string): void {
  process.stderr.write(`lab: ${line}\n`);
}

async function status(lab: Lab): Promise<void> {
  const who = await lab.ensureAddresses();
  for (const [id, by] of who) {
    say(
      `box ${id}: addresses ${by === "fulcrum" ? "configured by fulcrum" : "set by the lab harness (fulcrum's interface setup is not wired in yet)"}`,
    );
  }
  const targets: [string, string][] = [
    ["a", "10.0.1.3"],
    ["b", "10.0.1.2"],
    ["a", "10.0.1.11"],
    ["a", "10.0.1.12"],
    ["a", "10.0.1.13"],
    ["a", "10.0.1.50"],
  ];
  for (const [from, to] of targets) {
    const r = await lab.guest(from).shell.run(`ping -c 1 -W 2 ${to} >/dev/null`, 10_000);
    say(`ping box ${from} -> ${to}: ${r.code === 0 ? "ok" : "FAILED"}`);
  }
  const ipvs = await lab.guest("a").shell.run("ipvsadm -Ln", 10_000);
  say(`box a: ipvsadm -Ln\n${ipvs.output.trimEnd()}`);
  const curl = await lab.network.exec(
    lab.network.clientNs,
    ["curl", "-s", "-m", "3", `http://${VIP}/`],
    8_000,
  );
  say(
    curl.code === 0
      ? `client -> VIP ${VIP}: served by ${curl.stdout.trim()}`
      : `client -> VIP ${VIP}: no answer yet (VRRP and IPVS programming land in their own issues)`,
  );
}

async function attachSerial(lab: Lab): Promise<void> {
  const guest = lab.guest("a");
  say(`attached to box a's serial console (${guest.serial.path}); Ctrl-] leaves and tears the lab down`);
  say(`debug shells: socat -,raw,echo=0 UNIX-CONNECT:${guest.shell.socketPath} (and .../b/shell.sock)`);
  process.stdout.write(guest.serial.tail(30));
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const sock = await Bun.connect({
    unix: guest.serial.path.replace(/serial\.log$/, "serial.sock"),
    socket: {
      data: (_s, chunk) => {
        process.stdout.write(chunk);
      },
      close: () => done(),
    },
  });
  process.stdin.setRawMode?.(true);
  process.stdin.resume();
  process.stdin.on("data", (buf: Buffer) => {
    if (buf.includes(0x1d)) {
      done();
      return;
    }
    sock.write(buf);
  });
  await Promise.race([finished, guest.exited]);
  process.stdin.setRawMode?.(false);
  process.stdin.pause();
  sock.end();
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say("needs root (network namespaces, taps); run it as root");
    return 1;
  }
  const image = await ensureImage("lab", (l) => say(l));
  let lab: Lab | undefined;
  const teardown = async () => {
    await lab?.stop();
    await sweepLab(PREFIX); // also covers an interrupted start, before `lab` was assigned
    const left = await leftovers(PREFIX);
    say(
      left.netns.length === 0 && left.qemu.length === 0
        ? "torn down: no namespaces, taps or qemu processes left"
        : `LEFT BEHIND: netns ${left.netns.join(",")} qemu ${left.qemu.join(",")}`,
    );
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      void teardown().then(() => process.exit(130));
    });
  }
  try {
    say(`starting boxes a and b (${boot} boot of ${image.manifest.version}), 3 real servers, 1 client`);
    lab = await Lab.start({ ...drLabOptions(PREFIX, image, boot), log: say });
    await status(lab);
    if (attach) await attachSerial(lab);
    else say("not a terminal (or --no-attach): not attaching to the console");
    return 0;
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await teardown();
  }
}

process.exitCode = await main();

// The SSH server's Ed25519 host key: created on first start in the given directory (the data partition on
// a box, so it survives updates and clients keep trusting it) with mode 0600, and reused after that.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileDurably } from "../../system/durable.ts";
import { ssh2 } from "./ssh2.ts";

export const HOST_KEY_FILE = "ssh_host_ed25519_key";

export interface HostKey {
  /** OpenSSH private key text, for ssh2's hostKeys. */
  readonly privateKey: string;
  /** "ssh-ed25519 AAAA..." for known_hosts. */
  readonly publicKey: string;
  /** "SHA256:..." as `ssh-keygen -lf` prints it, for operators to compare on first connect. */
  readonly fingerprint: string;
  readonly path: string;
  readonly created: boolean;
}

export class HostKeyError extends Error {}

export function loadOrCreateHostKey(dir: string): HostKey {
  const path = join(dir, HOST_KEY_FILE);
  let created = false;
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = ssh2().utils.generateKeyPairSync("ed25519", { comment: "fulcrum host key" });
    // Durably, so a power cut never leaves a half-written key that blocks every later start.
    writeFileDurably(`${path}.pub`, `${pair.public}\n`, 0o644);
    writeFileDurably(path, pair.private, 0o600);
    created = true;
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const privateKey = readFileSync(path, "utf8");
  const parsed = ssh2().utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new HostKeyError(`${path}: not a usable private key: ${parsed.message}`);
  if (parsed.type !== "ssh-ed25519")
    throw new HostKeyError(`${path}: expected an ssh-ed25519 key, found ${parsed.type}`);
  const blob = parsed.getPublicSSH();
  return {
    privateKey,
    publicKey: `ssh-ed25519 ${blob.toString("base64")}`,
    fingerprint: fingerprintOf(blob),
    path,
    created,
  };
}

/** OpenSSH's SHA256 fingerprint of a public key blob. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

// Who may log in over SSH: users and their public keys come from config, each with a role. Public-key
// authentication only; there are no passwords to guess. Keys that do not parse are reported, not fatal.

import type { Role } from "../../state/actions.ts";
import { fingerprintOf } from "./hostkey.ts";
import { ssh2 } from "./ssh2.ts";

export interface SshUser {
  readonly name: string;
  readonly role: Role;
  /** OpenSSH public key lines: "ssh-ed25519 AAAA... comment". */
  readonly keys: readonly string[];
}

interface AuthorizedKey {
  readonly blob: Buffer;
  readonly fingerprint: string;
  readonly verify: (data: Buffer, signature: Buffer, hashAlgo?: string) => boolean;
}

export interface KeyProblem {
  readonly user: string;
  readonly index: number;
  readonly message: string;
}

export const MAX_USERS = 1000;
export const MAX_KEYS_PER_USER = 100;

export class AuthorizedUsers {
  private readonly byName = new Map<string, { role: Role; keys: AuthorizedKey[] }>();
  readonly problems: KeyProblem[] = [];

  constructor(users: readonly SshUser[]) {
    for (const user of users.slice(0, MAX_USERS)) {
      const keys: AuthorizedKey[] = [];
      user.keys.slice(0, MAX_KEYS_PER_USER).forEach((line, index) => {
        const parsed = ssh2().utils.parseKey(line.trim());
        if (parsed instanceof Error || Array.isArray(parsed)) {
          const reason = parsed instanceof Error ? parsed.message : "several keys on one line";
          this.problems.push({
            user: user.name,
            index,
            message: `key ${index + 1} of '${user.name}' ignored: ${reason}`,
          });
          return;
        }
        if (parsed.isPrivateKey()) {
          this.problems.push({
            user: user.name,
            index,
            message: `key ${index + 1} of '${user.name}' is a PRIVATE key; ignored`,
          });
          return;
        }
        const blob = parsed.getPublicSSH();
        keys.push({
          blob,
          fingerprint: fingerprintOf(blob),
          verify: (d, s, h) => parsed.verify(d, s, h) === true,
        });
      });
      this.byName.set(user.name, { role: user.role, keys });
    }
  }

  get size(): number {
    return this.byName.size;
  }

  /** The role of a user whose key this is, or null. `keyBlob` is the SSH wire form of the public key. */
  keyFor(user: string, keyBlob: Buffer): { role: Role; key: AuthorizedKey } | null {
    const entry = this.byName.get(user);
    if (!entry) return null;
    const key = entry.keys.find((k) => k.blob.equals(keyBlob));
    return key ? { role: entry.role, key } : null;
  }
}

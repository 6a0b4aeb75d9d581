// Bearer tokens for the management API. Tokens are compared in constant time over their SHA-256 digests,
// and every configured token is checked, so neither the position nor the length of a match leaks.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Role } from "../../state/actions.ts";

export interface ApiToken {
  /** Names the token in logs and in the actor, e.g. "ops-automation". */
  readonly name: string;
  readonly token: string;
  readonly role: Role;
}

/** Shorter tokens are refused at start: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;
export const MAX_TOKEN_LENGTH = 4096;

export class TokenError extends Error {}

export class TokenTable {
  private readonly entries: { name: string; role: Role; digest: Buffer }[];

  constructor(tokens: readonly ApiToken[]) {
    this.entries = tokens.map((t) => {
      if (t.token.length < MIN_TOKEN_LENGTH)
        throw new TokenError(`API token '${t.name}' is shorter than ${MIN_TOKEN_LENGTH} characters`);
      if (t.token.length > MAX_TOKEN_LENGTH)
        throw new TokenError(`API token '${t.name}' is longer than ${MAX_TOKEN_LENGTH} characters`);
      return { name: t.name, role: t.role, digest: digest(t.token) };
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The token's name and role for an Authorization header value, or null. */
  authenticate(authorization: string | null): { name: string; role: Role } | null {
    if (authorization === null || authorization.length > MAX_TOKEN_LENGTH + 16) return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m?.[1]) return null;
    const presented = digest(m[1]);
    let found: { name: string; role: Role } | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(e.digest, presented) && found === null) found = { name: e.name, role: e.role };
    }
    return found;
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

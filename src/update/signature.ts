// Ed25519 signatures over the manifest (Bun's node:crypto). Several keys may be trusted at once so a
// signing key can be rotated: the artifact names its signer, which must be one of them.
import { createHash, createPublicKey, verify } from "node:crypto";
import { ED25519_SPKI_PREFIX } from "../config/sections/update.ts";
import type { Header } from "./manifest.ts";

/** Short, stable name of a key for logs: the first 16 hex digits of SHA-256 of its 32 bytes. */
export function keyFingerprint(raw: Uint8Array): string {
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

export function spkiOfRawKey(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(ED25519_SPKI_PREFIX.length + raw.length);
  out.set(ED25519_SPKI_PREFIX, 0);
  out.set(raw, ED25519_SPKI_PREFIX.length);
  return out;
}

export type SignatureCheck =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly reason: string };

/** Is the header signed by one of `trusted` (raw 32-byte keys), with a signature that verifies? */
export function checkSignature(header: Header, trusted: readonly Uint8Array[]): SignatureCheck {
  const signer = keyFingerprint(header.signer);
  const known = trusted.some(
    (k) => k.length === header.signer.length && k.every((b, i) => b === header.signer[i]),
  );
  if (!known)
    return {
      ok: false,
      reason: `signed by key ${signer}, which this box does not trust (trusted: ${trusted.map(keyFingerprint).join(", ") || "none"})`,
    };
  let good = false;
  try {
    const key = createPublicKey({
      key: Buffer.from(spkiOfRawKey(header.signer)),
      format: "der",
      type: "spki",
    });
    good = verify(null, header.manifestBytes, key, header.signature);
  } catch {
    good = false;
  }
  return good
    ? { ok: true, key: signer }
    : {
        ok: false,
        reason: `bad signature (key ${signer}): the manifest was altered or not signed by that key`,
      };
}

// [update]: where signed images come from, which keys may sign them, and the A/B boot policy.

import { DEFAULTS } from "../defaults.ts";
import { type Ctx, readString, type TableReader } from "../reader.ts";
import type { RebootPolicy, UpdateConfig } from "../types.ts";

export const UPDATE_KEYS = [
  "url",
  "trusted_keys",
  "check_interval",
  "tries",
  "bless_after",
  "reboot",
  "reboot_window",
];
const REBOOT_POLICIES: readonly RebootPolicy[] = ["manual", "immediate", "window"];
/** DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410), followed by the 32 key bytes. */
export const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const WINDOW = /^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$/;

/** The 32 raw key bytes, or why the text is not an Ed25519 public key. */
export function parseEd25519PublicKey(text: string): Uint8Array | string {
  const trimmed = text.trim();
  let b64 = trimmed;
  const pem = /^-----BEGIN PUBLIC KEY-----([\s\S]*)-----END PUBLIC KEY-----$/.exec(trimmed);
  if (pem !== null) b64 = (pem[1] ?? "").replace(/\s+/g, "");
  else if (trimmed.startsWith("-----")) return "only PEM blocks of type PUBLIC KEY are accepted";
  if (!BASE64.test(b64) || b64.length % 4 !== 0) return "not valid base64";
  const bytes = new Uint8Array(Buffer.from(b64, "base64"));
  if (bytes.length === 32 && pem === null) return bytes;
  if (bytes.length === 44 && ED25519_SPKI_PREFIX.every((b, i) => bytes[i] === b)) return bytes.slice(12);
  return `decodes to ${bytes.length} bytes that are not an Ed25519 key (expected 32 raw bytes, or a 44-byte SPKI)`;
}

export function readUpdate(ctx: Ctx, root: TableReader): UpdateConfig {
  const d = DEFAULTS.update;
  const t = root.table("update", UPDATE_KEYS);
  if (t === undefined)
    return {
      trusted_keys: [],
      check_interval: d.check_interval,
      tries: d.tries,
      bless_after: d.bless_after,
      reboot: d.reboot,
    };
  const url = t.string("url", { nonEmpty: true });
  if (url !== undefined) {
    let ok = false;
    try {
      const u = new URL(url);
      ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      ok = false;
    }
    if (!ok) ctx.valueError(t.at("url"), `invalid update url '${url}'; expected an http:// or https:// URL`);
  }
  const keys =
    t.list("trusted_keys", (p, item) => {
      const s = readString(ctx, p, item);
      if (s === undefined) return undefined;
      const k = parseEd25519PublicKey(s);
      if (typeof k === "string") {
        ctx.valueError(
          p,
          `not an Ed25519 public key: ${k}; expected base64 of the 32 key bytes or a PEM "PUBLIC KEY" block`,
        );
        return undefined;
      }
      return k;
    }) ?? [];
  if (url !== undefined && !t.has("trusted_keys")) {
    ctx.tableError(
      t.path,
      "missing required key 'trusted_keys' (an update url needs at least one Ed25519 key to verify images)",
    );
  } else if (
    url !== undefined &&
    Array.isArray(t.get("trusted_keys")) &&
    (t.get("trusted_keys") as unknown[]).length === 0
  ) {
    ctx.valueError(t.at("trusted_keys"), "an update url needs at least one Ed25519 key to verify images");
  }
  const checkInterval = t.int("check_interval", 0, 604800) ?? d.check_interval;
  if (checkInterval > 0 && url === undefined && !t.has("url")) {
    ctx.valueError(t.at("check_interval"), "check_interval needs url (where to look for updates)");
  }
  const reboot = t.enumOf("reboot", REBOOT_POLICIES, "reboot policy") ?? d.reboot;
  let window: string | undefined;
  if (reboot === "window") {
    t.require("reboot_window", ' (e.g. "02:00-04:00", UTC)');
    window = t.string("reboot_window");
    if (window !== undefined && !WINDOW.test(window)) {
      ctx.valueError(
        t.at("reboot_window"),
        `invalid window '${window}'; expected "HH:MM-HH:MM" (UTC, 24-hour)`,
      );
      window = undefined;
    }
  } else {
    t.notAllowed("reboot_window", `reboot_window applies only to reboot = "window"`);
  }
  return {
    ...(url === undefined ? {} : { url }),
    trusted_keys: keys,
    check_interval: checkInterval,
    tries: t.int("tries", 1, 10) ?? d.tries,
    bless_after: t.int("bless_after", 1, 86400) ?? d.bless_after,
    reboot,
    ...(window === undefined ? {} : { reboot_window: window }),
  };
}

// Looking at an artifact on a server without downloading it: only its header (manifest and signature),
// fetched with an HTTP Range request, or, from a server that ignores Range, read until the header is
// complete and the connection dropped. Then the same signature and policy checks as an apply.
import { type Header, MAX_HEADER_BYTES, parseHeader } from "./manifest.ts";
import { type BoxFacts, checkPolicy } from "./policy.ts";
import type { CheckResult } from "./poll.ts";
import { checkSignature } from "./signature.ts";
import { compareVersions } from "./version.ts";

/** Enough for a manifest of ~700 chunks (a 2.8 GiB root in 4 MiB chunks) in one request. */
export const FIRST_RANGE_BYTES = 64 * 1024;

/** Reads the artifact header at `url`: at most two ranged requests, never the payload. */
export async function fetchHeader(url: string, timeoutMs: number): Promise<Header> {
  let want = FIRST_RANGE_BYTES;
  for (let round = 0; round < 2; round++) {
    const got = await fetchPrefix(url, want, timeoutMs);
    const parsed = parseHeader(got.bytes);
    if (parsed.kind === "header") return parsed.header;
    if (parsed.kind === "invalid") throw new Error(parsed.reason);
    if (got.ended || parsed.atLeast > MAX_HEADER_BYTES)
      throw new Error(`truncated: ${url} ends inside its header (${got.bytes.length} bytes)`);
    want = parsed.atLeast;
  }
  throw new Error(`${url}: header still incomplete after ${want} bytes`);
}

/**
 * The first `want` bytes at `url` (fewer if the file is shorter: `ended`). Asks for exactly that
 * range; a server that answers 200 with the whole file is read only as far as needed, then cut off.
 */
async function fetchPrefix(
  url: string,
  want: number,
  timeoutMs: number,
): Promise<{ bytes: Uint8Array; ended: boolean }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(url, {
      headers: { range: `bytes=0-${want - 1}` },
      signal: abort.signal,
      redirect: "follow",
    });
    if ((res.status !== 200 && res.status !== 206) || res.body === null)
      throw new Error(`${url}: HTTP ${res.status}`);
    const out = new Uint8Array(want);
    let n = 0;
    const reader = res.body.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) return { bytes: out.subarray(0, n), ended: true };
      const take = Math.min(r.value.length, want - n);
      out.set(r.value.subarray(0, take), n);
      n += take;
      if (n === want) {
        // The rest (the payload, from a server without Range) is not wanted.
        reader.cancel().catch(() => undefined);
        return { bytes: out, ended: false };
      }
    }
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`${url}: no answer within ${timeoutMs / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

export interface RemoteCheck {
  readonly url: string;
  readonly trustedKeys: readonly Uint8Array[];
  readonly facts: Omit<BoxFacts, "force">;
  /** A release that already failed on this box (rolled back by the boot loader): never pulled again. */
  readonly failedVersion: string | undefined;
  readonly timeoutMs: number;
}

/** What the server offers, judged as an apply would judge it (never forced). */
export async function checkRemote(o: RemoteCheck): Promise<CheckResult> {
  let header: Header;
  try {
    header = await fetchHeader(o.url, o.timeoutMs);
  } catch (err) {
    return {
      kind: "failed",
      detail: `check of ${o.url} failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const m = header.manifest;
  const sig = checkSignature(header, o.trustedKeys);
  if (!sig.ok) return { kind: "failed", detail: `${o.url} offers ${m.version}, refused: ${sig.reason}` };
  if (m.version === o.failedVersion)
    return {
      kind: "none",
      detail: `${o.url} offers ${m.version}, which failed on this box before; waiting for a newer release`,
    };
  if (compareVersions(m.version, o.facts.running) <= 0)
    return {
      kind: "none",
      detail: `${o.url} offers ${m.version}; running ${o.facts.running}, nothing newer`,
    };
  const verdict = checkPolicy(m, { ...o.facts, force: false });
  if (!verdict.ok)
    return { kind: "none", detail: `${o.url} offers ${m.version}, not installed: ${verdict.reason}` };
  return {
    kind: "update",
    version: m.version,
    detail: `${o.url} offers ${m.version} (build ${m.build}, signed by key ${sig.key}); running ${o.facts.running}: installing`,
  };
}

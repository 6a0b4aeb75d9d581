// What the running image says about itself (written by scripts/image.sh into the root).
import { readFileSync } from "node:fs";

export const IMAGE_INFO_PATH = "/usr/lib/fulcrum/image.json";

export interface ImageInfo {
  readonly profile: "production" | "lab";
  readonly version: string;
  readonly build: string;
  /** Lab images: the console device for the debug shell. */
  readonly debugShell: string | null;
}

/** Parses image.json; anything malformed yields a production profile with no debug shell. Pure. */
export function parseImageInfo(text: string): ImageInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = {};
  }
  const o = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const profile = o["profile"] === "lab" ? "lab" : "production";
  const debugShell =
    profile === "lab" && typeof o["debugShell"] === "string" && o["debugShell"].startsWith("/dev/")
      ? o["debugShell"]
      : null;
  return {
    profile,
    version: typeof o["version"] === "string" ? o["version"] : "unknown",
    build: typeof o["build"] === "string" ? o["build"] : "unknown",
    debugShell,
  };
}

export function readImageInfo(path = IMAGE_INFO_PATH): ImageInfo {
  try {
    return parseImageInfo(readFileSync(path, "utf8"));
  } catch {
    return parseImageInfo("{}");
  }
}

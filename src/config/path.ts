// Key paths into the TOML document: ["services", "web", "real", 1, "weight"] prints as
// `services.web.real[1].weight`. The printed form is also the position index's lookup key, so a
// path built by a validator and a path built by the tokenizer meet in one place.

export type PathSeg = string | number;
export type KeyPath = readonly PathSeg[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Human and index form of a key path; keys that are not bare TOML keys are quoted. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") {
      out += `[${seg}]`;
      continue;
    }
    const shown = BARE_KEY.test(seg) ? seg : JSON.stringify(seg);
    out += out === "" ? shown : `.${shown}`;
  }
  return out;
}

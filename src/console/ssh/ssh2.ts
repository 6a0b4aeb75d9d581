// ssh2 is loaded on first use: a box without SSH configured never needs it, and evaluating it is a
// noticeable part of every boot under emulation.
import type * as Ssh2 from "ssh2";

let loaded: typeof Ssh2 | undefined;

export function ssh2(): typeof Ssh2 {
  loaded ??= require("ssh2") as typeof Ssh2;
  return loaded;
}

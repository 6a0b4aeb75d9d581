// The checker for each check type. An engine can be given others (tests, or a probe in a namespace).
import type { Checker, CheckResult, CheckSpec, CheckTarget, CheckType } from "../types.ts";
import { dnsChecker } from "./dns.ts";
import { execChecker } from "./exec.ts";
import { httpChecker } from "./http.ts";
import { mysqlChecker } from "./mysql.ts";
import { tcpChecker } from "./tcp.ts";

/** The spec type that carries `type: T` (HttpCheckSpec for both "http" and "https"). */
export type SpecOfType<T extends CheckType> = CheckSpec extends infer S
  ? S extends CheckSpec
    ? T extends S["type"]
      ? S
      : never
    : never
  : never;

export type CheckerTable = { readonly [T in CheckType]: Checker<SpecOfType<T>> };

export const DEFAULT_CHECKERS: CheckerTable = {
  tcp: tcpChecker,
  http: httpChecker,
  https: httpChecker,
  mysql: mysqlChecker,
  dns: dnsChecker,
  exec: execChecker,
};

/** Runs the right checker for a spec; a checker that throws is a failed check, never a crash. */
export async function runCheck(
  table: CheckerTable,
  spec: CheckSpec,
  target: CheckTarget,
  signal: AbortSignal,
): Promise<CheckResult> {
  const checker = table[spec.type] as Checker;
  try {
    return await checker(spec, target, signal);
  } catch (err) {
    return { ok: false, reason: `checker failed: ${(err as Error)?.message ?? String(err)}`, latencyMs: 0 };
  }
}

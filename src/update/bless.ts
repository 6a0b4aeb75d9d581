// When to bless a boot (systemd-boot stops counting its tries) and when to give up on it. Pure:
// (state, health, now) -> (state, action). The daemon feeds it once a second.
//
// A boot whose UKI still carries a try counter is on probation. It is blessed once it has been healthy
// (config loaded, VRRP and IPVS up where configured) for `blessAfterMs` without a break. If it never
// gets there within `giveUpAfterMs`, the box reboots so the boot loader spends a try; once the tries
// are gone it falls back to the other slot.

export interface Health {
  readonly configLoaded: boolean;
  /** true when VRRP runs, or none is configured. */
  readonly vrrpUp: boolean;
  /** true when IPVS is programmed, or no service is configured. */
  readonly ipvsUp: boolean;
}

export type BlessState =
  | { readonly phase: "not-counted" }
  | { readonly phase: "probation"; readonly sinceMs: number; readonly healthySinceMs: number | undefined }
  | { readonly phase: "blessing" }
  | { readonly phase: "done" };

export type BlessAction =
  | { readonly kind: "none" }
  | { readonly kind: "bless"; readonly healthyMs: number }
  | { readonly kind: "reboot"; readonly reason: string };

export interface BlessPolicy {
  readonly blessAfterMs: number;
  readonly giveUpAfterMs: number;
}

export function isHealthy(h: Health): boolean {
  return h.configLoaded && h.vrrpUp && h.ipvsUp;
}

export function whatIsMissing(h: Health): string {
  const missing = [
    ...(h.configLoaded ? [] : ["config not loaded"]),
    ...(h.vrrpUp ? [] : ["VRRP down"]),
    ...(h.ipvsUp ? [] : ["IPVS down"]),
  ];
  return missing.length === 0 ? "healthy" : missing.join(", ");
}

/** Give-up time for a bless_after: at least 5 minutes, or five times bless_after. */
export function blessPolicy(blessAfterS: number): BlessPolicy {
  return { blessAfterMs: blessAfterS * 1000, giveUpAfterMs: Math.max(300_000, 5 * blessAfterS * 1000) };
}

export function startBless(counted: boolean, nowMs: number): BlessState {
  return counted
    ? { phase: "probation", sinceMs: nowMs, healthySinceMs: undefined }
    : { phase: "not-counted" };
}

export function stepBless(
  s: BlessState,
  health: Health,
  nowMs: number,
  policy: BlessPolicy,
): { state: BlessState; action: BlessAction } {
  if (s.phase !== "probation") return { state: s, action: { kind: "none" } };
  const healthy = isHealthy(health);
  const healthySinceMs = healthy ? (s.healthySinceMs ?? nowMs) : undefined;
  if (healthySinceMs !== undefined && nowMs - healthySinceMs >= policy.blessAfterMs)
    return { state: { phase: "blessing" }, action: { kind: "bless", healthyMs: nowMs - healthySinceMs } };
  if (nowMs - s.sinceMs >= policy.giveUpAfterMs)
    return {
      state: { phase: "done" },
      action: {
        kind: "reboot",
        reason: `not healthy for ${policy.blessAfterMs / 1000} s within ${policy.giveUpAfterMs / 1000} s of boot (${whatIsMissing(health)}): rebooting to spend a boot try`,
      },
    };
  return { state: { ...s, healthySinceMs }, action: { kind: "none" } };
}

/** After the rename was tried: done, or back on probation to try again later. */
export function blessFinished(ok: boolean, nowMs: number): BlessState {
  return ok ? { phase: "done" } : { phase: "probation", sinceMs: nowMs, healthySinceMs: undefined };
}

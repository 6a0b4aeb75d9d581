// Turns names as an operator or script gave them ("192.0.2.10:80", a bare real-server address) into the
// canonical ones the ActionHandler expects (the service's name, the real server as "ADDR:PORT"), and
// refuses names that do not exist before anything is attempted.
import type { OperatorAction } from "../state/actions.ts";
import type { BoxSnapshot } from "../state/snapshot.ts";
import { findReal, findService, realId } from "./ipvsadm.ts";

export type Resolved =
  | { readonly ok: true; readonly action: OperatorAction }
  | { readonly ok: false; readonly error: string };

export function resolveAction(snapshot: BoxSnapshot, action: OperatorAction): Resolved {
  switch (action.kind) {
    case "drain":
    case "enable":
    case "weight": {
      const svc = findService(snapshot, action.service);
      if (!svc.ok) return { ok: false, error: svc.error };
      const real = findReal(svc.value, action.real);
      if (!real.ok) return { ok: false, error: real.error };
      return { ok: true, action: { ...action, service: svc.value.name, real: realId(real.value) } };
    }
    case "failover":
    case "failback": {
      if (snapshot.vrrp.some((v) => v.name === action.instance)) return { ok: true, action };
      const known = snapshot.vrrp.map((v) => v.name).join(", ") || "none";
      return { ok: false, error: `no VRRP instance '${action.instance}' (known: ${known})` };
    }
    default:
      return { ok: true, action };
  }
}

// Messages and shared-memory slots between FdWatcher (main thread) and its worker.

export const CTRL_ARM = 0;
export const CTRL_STOP = 1;
export const CTRL_SLOTS = 2;

export interface WatchInit {
  readonly fd: number;
  readonly wakeFd: number;
  readonly control: SharedArrayBuffer;
}

export type WatchReport =
  | { readonly kind: "ready"; readonly revents: number }
  | { readonly kind: "stopped" }
  | { readonly kind: "failed"; readonly message: string };

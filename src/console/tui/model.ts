// The TUI's state and its key handling as a pure reducer: (ui, input, snapshot) -> (ui, intents).
// It never performs anything; it asks for actions as intents, and the session feeds results back in.
import type { ActionResult, OperatorAction, Role } from "../../state/actions.ts";
import type { BoxSnapshot } from "../../state/snapshot.ts";
import { MAX_FAILOVER_PRIORITY, MAX_WEIGHT, parseBoundedInt } from "../action-parse.ts";
import { describeAction } from "../audit.ts";
import { realId, type TableView } from "../ipvsadm.ts";
import type { Key } from "./keys.ts";

export type Screen = "overview" | "services" | "real" | "events" | "update" | "help";
/** The screens reachable with number keys and Tab, in that order. */
export const MAIN_SCREENS: readonly Screen[] = ["overview", "services", "events", "update"];

export interface RealRef {
  /** Service name. */
  readonly service: string;
  /** realId(): "ADDR:PORT". */
  readonly real: string;
}

export type PromptPurpose =
  | { readonly kind: "weight"; readonly service: string; readonly real: string }
  | { readonly kind: "failover"; readonly instance: string }
  | { readonly kind: "update" };

export type Modal =
  | {
      readonly kind: "prompt";
      readonly title: string;
      readonly text: string;
      readonly purpose: PromptPurpose;
    }
  | {
      readonly kind: "confirm";
      readonly title: string;
      readonly lines: readonly string[];
      readonly action: OperatorAction;
      readonly scroll: number;
    };

export interface UiState {
  readonly role: Role;
  /** Shown on the tab line, e.g. "ops@ssh:192.0.2.50". */
  readonly who: string;
  /** SSH sessions may quit; the serial console stays up for the next operator. */
  readonly allowQuit: boolean;
  readonly screen: Screen;
  /** Where Escape returns to from the help or history screens. */
  readonly back: Screen;
  readonly vrrp: string | null;
  readonly real: RealRef | null;
  readonly view: TableView;
  /** How many lines the events screen is scrolled back from the newest (0 follows the tail). */
  readonly eventsBack: number;
  /** The events screen shows box events or the log tail (l toggles). */
  readonly eventsSource: "events" | "log";
  readonly modal: Modal | null;
  /** The action in flight, if any: one at a time per session. */
  readonly busy: OperatorAction | null;
  readonly message: string;
}

export type UiInput =
  | { readonly kind: "key"; readonly key: Key }
  | { readonly kind: "result"; readonly action: OperatorAction; readonly result: ActionResult };

export type Intent =
  | { readonly kind: "perform"; readonly action: OperatorAction }
  | { readonly kind: "quit" }
  | { readonly kind: "redraw" };

export interface Step {
  readonly ui: UiState;
  readonly intents: readonly Intent[];
}

export const MAX_PROMPT_LENGTH = 200;
export const MAX_MESSAGE_LENGTH = 500;

export function initialUi(role: Role, who: string, allowQuit: boolean): UiState {
  return {
    role,
    who,
    allowQuit,
    screen: "overview",
    back: "overview",
    vrrp: null,
    real: null,
    view: "conns",
    eventsBack: 0,
    eventsSource: "events",
    modal: null,
    busy: null,
    message: "Press ? for help.",
  };
}

/** Rows available to a screen's body at a terminal height (title, tabs, rule, status and hints take 5). */
export function bodyRows(rows: number): number {
  return Math.max(1, rows - 5);
}

export function reduce(ui: UiState, input: UiInput, snapshot: BoxSnapshot, rows: number): Step {
  if (input.kind === "result") return onResult(ui, input.action, input.result);
  const key = input.key;
  if (key === "C-l") return { ui, intents: [{ kind: "redraw" }] };
  if (ui.modal?.kind === "prompt") return onPromptKey(ui, ui.modal, key);
  if (ui.modal?.kind === "confirm") return onConfirmKey(ui, ui.modal, key, rows);
  return onKey(ui, key, snapshot, rows);
}

// ---------------------------------------------------------------------------------------------
// Selection helpers (shared with render so both agree on what is selected)

export function allReals(snapshot: BoxSnapshot): RealRef[] {
  return snapshot.services.flatMap((s) => s.realServers.map((r) => ({ service: s.name, real: realId(r) })));
}

/** The selected real server, falling back to the first one when the selection went away. */
export function selectedReal(ui: UiState, snapshot: BoxSnapshot): RealRef | null {
  const reals = allReals(snapshot);
  if (ui.real) {
    const found = reals.find((r) => r.service === ui.real?.service && r.real === ui.real.real);
    if (found) return found;
  }
  return reals[0] ?? null;
}

export function selectedVrrp(ui: UiState, snapshot: BoxSnapshot): string | null {
  if (ui.vrrp && snapshot.vrrp.some((v) => v.name === ui.vrrp)) return ui.vrrp;
  return snapshot.vrrp[0]?.name ?? null;
}

// ---------------------------------------------------------------------------------------------

function onKey(ui: UiState, key: Key, snapshot: BoxSnapshot, rows: number): Step {
  const screenIndex = MAIN_SCREENS.indexOf(ui.screen);
  if (key >= "1" && key <= "4" && key.length === 1) return go(ui, MAIN_SCREENS[Number(key) - 1]!);
  switch (key) {
    case "tab":
      return go(ui, MAIN_SCREENS[(screenIndex + 1) % MAIN_SCREENS.length]!);
    case "backtab":
      return go(ui, MAIN_SCREENS[(screenIndex + MAIN_SCREENS.length - 1) % MAIN_SCREENS.length]!);
    case "?":
    case "h":
      return ui.screen === "help"
        ? go(ui, ui.back)
        : { ui: { ...ui, screen: "help", back: backFor(ui) }, intents: [] };
    case "escape":
      if (ui.screen === "help" || ui.screen === "real") return go(ui, ui.back);
      return { ui: { ...ui, message: "" }, intents: [] };
    case "q":
    case "C-c":
    case "C-d":
      if (ui.allowQuit) return { ui, intents: [{ kind: "quit" }] };
      return say(ui, "This is the box's console: it stays on. Use the screens with 1-4.");
    case "R":
      return admin(ui, "reload", () => perform(ui, { kind: "reload", confirm: false }));
  }
  switch (ui.screen) {
    case "overview":
      return onOverviewKey(ui, key, snapshot);
    case "services":
    case "real":
      return onServicesKey(ui, key, snapshot);
    case "events":
      return onEventsKey(ui, key, snapshot, rows);
    case "update":
      return onUpdateKey(ui, key);
    case "help":
      return { ui, intents: [] };
  }
}

function backFor(ui: UiState): Screen {
  return ui.screen === "help" || ui.screen === "real" ? ui.back : ui.screen;
}

function go(ui: UiState, screen: Screen): Step {
  return {
    ui: { ...ui, screen, back: screen === "real" ? ui.screen : screen, message: ui.busy ? ui.message : "" },
    intents: [],
  };
}

function onOverviewKey(ui: UiState, key: Key, snapshot: BoxSnapshot): Step {
  const names = snapshot.vrrp.map((v) => v.name);
  const current = selectedVrrp(ui, snapshot);
  switch (key) {
    case "up":
    case "k":
    case "down":
    case "j": {
      if (names.length === 0) return { ui, intents: [] };
      const delta = key === "up" || key === "k" ? -1 : 1;
      const index = Math.max(0, names.indexOf(current ?? ""));
      const next = names[Math.min(names.length - 1, Math.max(0, index + delta))] ?? null;
      return { ui: { ...ui, vrrp: next }, intents: [] };
    }
    case "f":
      if (current === null) return say(ui, "No VRRP instance to fail over.");
      return admin(ui, "failover", () => ({
        ui: {
          ...ui,
          vrrp: current,
          modal: {
            kind: "prompt",
            title: `Fail over ${current}: drop priority to (0 = give up now)`,
            text: "0",
            purpose: { kind: "failover", instance: current },
          },
        },
        intents: [],
      }));
    case "t":
      if (current === null) return say(ui, "No VRRP instance to take back.");
      return admin(ui, "failback", () =>
        confirm(
          ui,
          `Take back ${current}?`,
          [
            `Restore ${current}'s configured priority; it becomes master again if it`,
            "has the highest priority (and preemption allows).",
          ],
          { kind: "failback", instance: current },
        ),
      );
  }
  return { ui, intents: [] };
}

function onServicesKey(ui: UiState, key: Key, snapshot: BoxSnapshot): Step {
  const reals = allReals(snapshot);
  const current = selectedReal(ui, snapshot);
  switch (key) {
    case "up":
    case "k":
    case "down":
    case "j":
    case "pageup":
    case "pagedown":
    case "home":
    case "end": {
      if (reals.length === 0) return { ui, intents: [] };
      const index = Math.max(
        0,
        reals.findIndex((r) => r.service === current?.service && r.real === current.real),
      );
      const target =
        key === "home"
          ? 0
          : key === "end"
            ? reals.length - 1
            : index +
              (key === "up" || key === "k"
                ? -1
                : key === "down" || key === "j"
                  ? 1
                  : key === "pageup"
                    ? -10
                    : 10);
      const next = reals[Math.min(reals.length - 1, Math.max(0, target))] ?? null;
      return { ui: { ...ui, real: next }, intents: [] };
    }
    case "enter":
      if (current === null) return say(ui, "No real servers.");
      return { ui: { ...ui, real: current, screen: "real", back: "services" }, intents: [] };
    case "r": {
      const view: TableView = ui.view === "conns" ? "rate" : ui.view === "rate" ? "stats" : "conns";
      return say(
        { ...ui, view },
        `Showing ${view === "conns" ? "connections" : view === "rate" ? "rates" : "totals"}.`,
      );
    }
    case "d":
    case "e":
      if (current === null) return say(ui, "No real server selected.");
      return admin(ui, key === "d" ? "drain" : "enable", () =>
        perform(
          { ...ui, real: current },
          { kind: key === "d" ? "drain" : "enable", service: current.service, real: current.real },
        ),
      );
    case "w":
      if (current === null) return say(ui, "No real server selected.");
      return admin(ui, "weight", () => ({
        ui: {
          ...ui,
          real: current,
          modal: {
            kind: "prompt",
            title: `Weight for ${current.real} in ${current.service} (0-${MAX_WEIGHT})`,
            text: "",
            purpose: { kind: "weight", service: current.service, real: current.real },
          },
        },
        intents: [],
      }));
  }
  return { ui, intents: [] };
}

/** The lines the events screen walks: box events, or the log tail when the snapshot carries one. */
export function eventLines(ui: UiState, snapshot: BoxSnapshot): number {
  return ui.eventsSource === "log" ? (snapshot.log?.length ?? 0) : snapshot.events.length;
}

function onEventsKey(ui: UiState, key: Key, snapshot: BoxSnapshot, rows: number): Step {
  if (key === "l") {
    const eventsSource = ui.eventsSource === "events" ? "log" : "events";
    return say(
      { ...ui, eventsSource, eventsBack: 0 },
      eventsSource === "log" ? "Showing the log tail." : "Showing events.",
    );
  }
  const page = Math.max(1, bodyRows(rows) - 2);
  const maxBack = Math.max(0, eventLines(ui, snapshot) - page);
  const moves: Record<string, number> = { up: 1, k: 1, down: -1, j: -1, pageup: page, pagedown: -page };
  if (key in moves) {
    const eventsBack = Math.min(maxBack, Math.max(0, ui.eventsBack + (moves[key] ?? 0)));
    return { ui: { ...ui, eventsBack }, intents: [] };
  }
  if (key === "end") return { ui: { ...ui, eventsBack: 0 }, intents: [] };
  if (key === "home") return { ui: { ...ui, eventsBack: maxBack }, intents: [] };
  return { ui, intents: [] };
}

function onUpdateKey(ui: UiState, key: Key): Step {
  if (key === "u") {
    return admin(ui, "update", () => ({
      ui: {
        ...ui,
        modal: { kind: "prompt", title: "Update from (URL or path)", text: "", purpose: { kind: "update" } },
      },
      intents: [],
    }));
  }
  if (key === "B") {
    return admin(ui, "reboot", () =>
      confirm(ui, "Reboot the box now?", ["Traffic fails over to the peer if one is running."], {
        kind: "reboot",
      }),
    );
  }
  return { ui, intents: [] };
}

function onPromptKey(ui: UiState, modal: Extract<Modal, { kind: "prompt" }>, key: Key): Step {
  if (key === "escape" || key === "C-c")
    return { ui: { ...ui, modal: null, message: "Cancelled." }, intents: [] };
  if (key === "backspace")
    return { ui: { ...ui, modal: { ...modal, text: modal.text.slice(0, -1) } }, intents: [] };
  if (key === "C-u") return { ui: { ...ui, modal: { ...modal, text: "" } }, intents: [] };
  if (key === "enter") return submitPrompt({ ...ui, modal: null }, modal);
  if (key.length === 1 && key >= " " && key <= "~" && modal.text.length < MAX_PROMPT_LENGTH) {
    return { ui: { ...ui, modal: { ...modal, text: modal.text + key } }, intents: [] };
  }
  return { ui, intents: [] };
}

function submitPrompt(ui: UiState, modal: Extract<Modal, { kind: "prompt" }>): Step {
  const text = modal.text.trim();
  const purpose = modal.purpose;
  switch (purpose.kind) {
    case "weight": {
      const weight = parseBoundedInt(text, 0, MAX_WEIGHT);
      if (weight === null)
        return say(ui, `Weight must be a whole number from 0 to ${MAX_WEIGHT}; nothing changed.`);
      return perform(ui, { kind: "weight", service: purpose.service, real: purpose.real, weight });
    }
    case "failover": {
      const priority = parseBoundedInt(text === "" ? "0" : text, 0, MAX_FAILOVER_PRIORITY);
      if (priority === null)
        return say(ui, `Priority must be from 0 to ${MAX_FAILOVER_PRIORITY}; nothing changed.`);
      return confirm(
        ui,
        `Fail over ${purpose.instance}?`,
        [
          priority === 0
            ? `${purpose.instance} gives up mastership now (priority 0) and stays backup`
            : `${purpose.instance} runs at priority ${priority} and stays there`,
          "until you take it back (t on the overview).",
        ],
        { kind: "failover", instance: purpose.instance, priority },
      );
    }
    case "update":
      if (text === "") return say(ui, "No source given; nothing changed.");
      return confirm(
        ui,
        "Apply update?",
        [
          `Source: ${text}`,
          "The image is verified and written to the inactive slot; the box boots it next",
          "and falls back by itself if it does not come up healthy.",
        ],
        { kind: "update", source: text, force: false },
      );
  }
}

function onConfirmKey(ui: UiState, modal: Extract<Modal, { kind: "confirm" }>, key: Key, rows: number): Step {
  const page = Math.max(1, bodyRows(rows) - 5);
  const maxScroll = Math.max(0, modal.lines.length - page);
  switch (key) {
    case "y":
    case "Y":
      return perform({ ...ui, modal: null }, modal.action);
    case "n":
    case "N":
    case "escape":
    case "q":
    case "C-c":
      return { ui: { ...ui, modal: null, message: "Cancelled; nothing changed." }, intents: [] };
    case "up":
    case "k":
    case "down":
    case "j":
    case "pageup":
    case "pagedown": {
      const delta = { up: -1, k: -1, down: 1, j: 1, pageup: -page, pagedown: page }[key];
      return {
        ui: { ...ui, modal: { ...modal, scroll: Math.min(maxScroll, Math.max(0, modal.scroll + delta)) } },
        intents: [],
      };
    }
  }
  return { ui, intents: [] };
}

function onResult(ui: UiState, action: OperatorAction, result: ActionResult): Step {
  const done: UiState = { ...ui, busy: null };
  if (action.kind === "reload" && !action.confirm && result.ok) {
    const diff = result.diff ?? [];
    if (diff.length === 0) return say(done, `Reload: ${result.message || "no changes"}`);
    return confirm(done, `Reload: ${result.message}`, diff, { kind: "reload", confirm: true });
  }
  return say(done, `${result.ok ? "OK" : "FAILED"}: ${describeAction(action)}: ${result.message}`);
}

function perform(ui: UiState, action: OperatorAction): Step {
  if (ui.busy) return say(ui, `Busy with '${describeAction(ui.busy)}'; try again when it finishes.`);
  return {
    ui: { ...ui, busy: action, message: `Working: ${describeAction(action)} ...` },
    intents: [{ kind: "perform", action }],
  };
}

function confirm(ui: UiState, title: string, lines: readonly string[], action: OperatorAction): Step {
  return { ui: { ...ui, modal: { kind: "confirm", title, lines, action, scroll: 0 } }, intents: [] };
}

function admin(ui: UiState, what: string, then: () => Step): Step {
  if (ui.role !== "admin") return say(ui, `'${what}' needs the admin role; you are a viewer.`);
  return then();
}

function say(ui: UiState, message: string): Step {
  return { ui: { ...ui, message: message.slice(0, MAX_MESSAGE_LENGTH) }, intents: [] };
}

// The whole screen as text: render(snapshot, ui, cols, rows) -> exactly `rows` lines of exactly `cols`
// columns. Pure, so every screen is unit-tested at 80x24 and the adapters only paint what they are given.
import type { BoxSnapshot, UpdateSnapshot, VrrpInstanceSnapshot } from "../../state/snapshot.ts";
import { describeAction } from "../audit.ts";
import {
  findReal,
  findService,
  forwardName,
  realId,
  realLineBody,
  realStatus,
  serviceLine,
  tableHeader,
} from "../ipvsadm.ts";
import {
  fit,
  fitRight,
  formatBytes,
  formatClock,
  formatCount,
  formatEta,
  formatLatency,
  formatTimeOfDay,
  formatUpdatePoll,
  formatUptime,
  progressBar,
} from "../text.ts";
import {
  bodyRows,
  MAIN_SCREENS,
  type Modal,
  type Screen,
  selectedReal,
  selectedVrrp,
  type UiState,
} from "./model.ts";

export const MIN_COLS = 40;
export const MIN_ROWS = 10;

const SCREEN_TITLES: Record<Screen, string> = {
  overview: "Overview",
  services: "Services",
  real: "Check history",
  events: "Events",
  update: "Update",
  help: "Help",
};

export function render(snapshot: BoxSnapshot, ui: UiState, cols: number, rows: number): string[] {
  if (cols < MIN_COLS || rows < MIN_ROWS) return tooSmall(cols, rows);
  const body =
    ui.modal?.kind === "confirm"
      ? confirmBody(ui.modal, cols, bodyRows(rows))
      : screenBody(snapshot, ui, cols, bodyRows(rows));
  const lines = [titleLine(snapshot, cols), tabLine(ui, cols), "-".repeat(cols)];
  for (let i = 0; i < bodyRows(rows); i++) lines.push(fit(body[i] ?? "", cols));
  lines.push(fit(statusLine(ui), cols), fit(hintLine(ui), cols));
  return lines;
}

function tooSmall(cols: number, rows: number): string[] {
  const lines = [
    `Terminal ${cols}x${rows} is too small;`,
    `fulcrum needs ${MIN_COLS}x${MIN_ROWS} (80x24 is best).`,
  ];
  return Array.from({ length: Math.max(0, rows) }, (_, i) => fit(lines[i] ?? "", Math.max(0, cols)));
}

function titleLine(s: BoxSnapshot, cols: number): string {
  const left = `fulcrum  ${s.hostname}`;
  const right = `${s.version} slot ${s.update.bootSlot}  up ${formatUptime(s.nowMs - s.startedAtMs)}`;
  return joinEnds(left, right, cols);
}

function tabLine(ui: UiState, cols: number): string {
  const tabs = MAIN_SCREENS.map((screen, i) => {
    const label = `${i + 1} ${SCREEN_TITLES[screen]}`;
    const active = screen === ui.screen || (ui.screen === "real" && screen === "services");
    return active ? `[${label}]` : ` ${label} `;
  }).join("");
  const help = ui.screen === "help" ? "[? Help]" : " ? Help ";
  const left = `${tabs}${help}`;
  const role = ` (${ui.role})`;
  const room = Math.max(0, cols - left.length - 2 - role.length);
  return joinEnds(left, `${ui.who.length > room ? fit(ui.who, room) : ui.who}${role}`, cols);
}

function statusLine(ui: UiState): string {
  if (ui.modal?.kind === "prompt") return `${ui.modal.title}: ${ui.modal.text}_`;
  if (ui.modal?.kind === "confirm") return `${ui.modal.title}  [y]es / [n]o`;
  return ui.busy ? `Working: ${describeAction(ui.busy)} ...` : ui.message;
}

function hintLine(ui: UiState): string {
  if (ui.modal?.kind === "prompt") return "Enter accept  Esc cancel  Backspace erase";
  if (ui.modal?.kind === "confirm") return "y apply  n/Esc cancel  j/k scroll";
  const isAdmin = ui.role === "admin";
  const quit = ui.allowQuit ? "  q quit" : "";
  switch (ui.screen) {
    case "overview":
      return `1-4 screens  j/k select${isAdmin ? "  f failover  t take back  R reload" : ""}  ? help${quit}`;
    case "services":
      return `j/k select  Enter history  r rates${isAdmin ? "  d drain  e enable  w weight" : ""}  ? help${quit}`;
    case "real":
      return `Esc back${isAdmin ? "  d drain  e enable  w weight" : ""}  ? help${quit}`;
    case "events":
      return `j/k scroll  PgUp/PgDn page  End newest  l ${ui.eventsSource === "log" ? "events" : "log tail"}  ? help${quit}`;
    case "update":
      return `${isAdmin ? "u apply update  B reboot  " : ""}? help${quit}`;
    case "help":
      return `Esc or ? back${quit}`;
  }
}

function screenBody(s: BoxSnapshot, ui: UiState, cols: number, height: number): string[] {
  switch (ui.screen) {
    case "overview":
      return overviewBody(s, ui, cols);
    case "services":
      return servicesBody(s, ui, height);
    case "real":
      return realBody(s, ui);
    case "events":
      return eventsBody(s, ui, cols, height);
    case "update":
      return updateBody(s, ui, cols);
    case "help":
      return helpBody(ui);
  }
}

// ---------------------------------------------------------------------------------------------

function overviewBody(s: BoxSnapshot, ui: UiState, cols: number): string[] {
  const half = Math.floor(cols / 2);
  const pair = (a: string, b: string) => fit(a, half) + b;
  const lines = [
    pair(`Host     ${s.hostname}`, `Version  ${s.version} (build ${s.build})`),
    pair(`Slot     ${s.update.bootSlot}`, `Uptime   ${formatUptime(s.nowMs - s.startedAtMs)}`),
    pair(`Clock    ${formatClock(s.nowMs)}`, `Update   ${s.update.state}`),
    "",
    `  ${fit("VRRP", 14)} ${fit("IFACE", 9)}${fitRight("VRID", 4)} ${fit("STATE", 7)} ${fit("PRIO", 8)}${fit("MASTER", 16)}VIPS`,
  ];
  const selected = selectedVrrp(ui, s);
  if (s.vrrp.length === 0) lines.push("  (no VRRP instances configured)");
  for (const v of s.vrrp) lines.push(vrrpRow(v, v.name === selected));
  const reals = s.services.flatMap((svc) => svc.realServers);
  const count = (status: string) => reals.filter((r) => realStatus(r) === status).length;
  const noQuorum = s.services.filter((svc) => !svc.quorumUp).length;
  lines.push(
    "",
    `Services ${s.services.length}${noQuorum > 0 ? ` (${noQuorum} WITHOUT QUORUM)` : ""}   Real servers ${count("up")} up, ` +
      `${count("DOWN")} down, ${count("drain")} draining, ${count("unknown")} unknown`,
  );
  const current = s.vrrp.find((v) => v.name === selected);
  if (current) {
    lines.push(`${current.name}: ${current.transitions} transitions; last: ${current.lastReason || "-"}`);
    lines.push(`${current.name} VIPs: ${current.vips.join(" ") || "-"}`);
  }
  return lines;
}

function vrrpRow(v: VrrpInstanceSnapshot, selected: boolean): string {
  const prio =
    v.effectivePriority === v.priority ? String(v.priority) : `${v.effectivePriority}/${v.priority}`;
  const vips = v.vips.length <= 1 ? (v.vips[0] ?? "-") : `${v.vips[0]} +${v.vips.length - 1}`;
  return (
    `${selected ? "> " : "  "}${fit(v.name, 14)} ${fit(v.interface, 9)}${fitRight(String(v.vrid), 4)} ` +
    `${fit(v.state, 7)} ${fit(prio, 8)}${fit(v.masterAddress ?? "?", 16)}${vips}`
  );
}

function servicesBody(s: BoxSnapshot, ui: UiState, height: number): string[] {
  const [h1, h2] = tableHeader(ui.view);
  const header = [h1, ui.view === "conns" ? `${h2} Status` : h2];
  const selected = selectedReal(ui, s);
  const lines: string[] = [];
  let selectedLine = -1;
  for (const service of s.services) {
    lines.push(serviceLine(service, ui.view) + (service.quorumUp ? "" : "  [quorum down]"));
    for (const real of service.realServers) {
      const isSelected =
        selected !== null && selected.service === service.name && selected.real === realId(real);
      if (isSelected) selectedLine = lines.length;
      const status = ui.view === "conns" ? ` ${realStatus(real)}` : "";
      lines.push(`${isSelected ? ">" : " "} -> ${realLineBody(real, ui.view)}${status}`);
    }
  }
  if (s.services.length === 0) lines.push("(no virtual services configured)");
  // Page-wise scrolling keeps the view still while the selection moves within a page.
  const page = Math.max(1, height - header.length - 1);
  const top = selectedLine < 0 ? 0 : Math.floor(selectedLine / page) * page;
  const visible = lines.slice(top, top + page);
  const more =
    lines.length > top + page ? `-- ${lines.length - top - page} more lines below (j/PgDn) --` : "";
  return [
    ...header,
    ...visible,
    ...(top > 0 && more === "" ? ["-- more above (k/PgUp) --"] : more ? [more] : []),
  ];
}

function realBody(s: BoxSnapshot, ui: UiState): string[] {
  const ref = selectedReal(ui, s);
  if (ref === null) return ["No real servers."];
  const svc = findService(s, ref.service);
  if (!svc.ok) return [svc.error];
  const found = findReal(svc.value, ref.real);
  if (!found.ok) return [found.error];
  const r = found.value;
  const service = svc.value;
  const lines = [
    `Service  ${service.name}  (${service.label} ${service.scheduler})${service.quorumUp ? "" : "  [quorum down]"}`,
    `Real     ${ref.real}  ${forwardName(r.method)}  status ${realStatus(r)}  health ${r.health}${r.draining ? "  draining" : ""}`,
    `Weight   ${r.weight} (configured ${r.configuredWeight})   ActiveConn ${r.activeConns}   InActConn ${r.inactiveConns}`,
    `Rates    CPS ${formatCount(r.cps)}  InPPS ${formatCount(r.inPps)}  OutPPS ${formatCount(r.outPps)}  ` +
      `InBPS ${formatCount(r.inBps)}  OutBPS ${formatCount(r.outBps)}`,
    `Totals   Conns ${formatCount(r.conns)}  InBytes ${formatBytes(r.inBytes)}  OutBytes ${formatBytes(r.outBytes)}`,
    "",
    `Check history (${r.checks.length}, newest first)`,
    `  ${fit("TIME", 9)} ${fit("RESULT", 6)} ${fitRight("LATENCY", 8)}  REASON`,
  ];
  if (r.checks.length === 0) lines.push("  (no checks yet)");
  for (let i = r.checks.length - 1; i >= 0; i--) {
    const c = r.checks[i]!;
    lines.push(
      `  ${fit(formatTimeOfDay(c.atMs), 9)} ${fit(c.ok ? "ok" : "FAIL", 6)} ${fitRight(formatLatency(c.latencyMs), 8)}  ${c.reason}`,
    );
  }
  return lines;
}

function eventsBody(s: BoxSnapshot, ui: UiState, cols: number, height: number): string[] {
  const page = Math.max(1, height - 2);
  const showLog = ui.eventsSource === "log";
  const rowsOf: { atMs: number; a: string; b: string }[] = showLog
    ? (s.log ?? []).map((l) => ({ atMs: l.atMs, a: l.level.toUpperCase(), b: l.msg }))
    : s.events.map((e) => ({ atMs: e.atMs, a: e.event, b: e.reason }));
  const width = showLog ? 6 : 24;
  const end = Math.max(0, rowsOf.length - ui.eventsBack);
  const start = Math.max(0, end - page);
  const lines = [
    showLog
      ? `${fit("TIME", 9)} ${fit("LEVEL", width)} MESSAGE`
      : `${fit("TIME", 9)} ${fit("EVENT", width)} REASON`,
  ];
  if (rowsOf.length === 0) lines.push(showLog ? "(no log lines kept)" : "(no events yet)");
  for (const r of rowsOf.slice(start, end))
    lines.push(`${fit(formatTimeOfDay(r.atMs), 9)} ${fit(r.a, width)} ${r.b}`);
  while (lines.length < page + 1) lines.push("");
  const what = showLog ? "log lines" : "events";
  lines.push(
    ui.eventsBack > 0
      ? fit(`-- scrolled back ${ui.eventsBack} of ${rowsOf.length}; End for newest --`, cols)
      : `-- ${rowsOf.length} ${what} (times UTC), following the newest; l: ${showLog ? "events" : "log tail"} --`,
  );
  return lines;
}

const UPDATE_STATE_TEXT: Record<UpdateSnapshot["state"], string> = {
  idle: "idle: no update in progress",
  downloading: "downloading the image",
  verifying: "verifying the image's signature and checksums",
  writing: "writing the image to the other slot",
  "pending-reboot": "written: boots at the next reboot",
  failed: "FAILED (the running slot is untouched)",
};

function updateBody(s: BoxSnapshot, ui: UiState, cols: number): string[] {
  const u = s.update;
  const other = otherSlot(u.bootSlot);
  const lines = [
    `Running     ${s.version} (build ${s.build})`,
    `Boot slot   ${u.bootSlot}${other === null ? "" : `; updates go to slot ${other}, ${u.bootSlot} stays as fallback`}`,
    `State       ${UPDATE_STATE_TEXT[u.state] ?? u.state}`,
  ];
  if (u.progress) lines.push(...progressLines(u.progress, cols));
  lines.push(`Last result ${u.lastResult || "-"}`);
  if (u.poll !== undefined) lines.push(`Checks      ${formatUpdatePoll(u.poll)}`);
  lines.push("");
  const admin = ui.role === "admin";
  if (u.state === "pending-reboot")
    lines.push(
      `The new image is written: ${admin ? "reboot (B)" : "a reboot"} boots it; the old slot stays as fallback.`,
    );
  else if (admin && (u.state === "idle" || u.state === "failed"))
    lines.push(
      `u applies an update from a URL or a path on the box${u.state === "failed" ? " (try again)" : ""}.`,
    );
  return lines;
}

/** Bar, bytes, rate and time left; a total of 0 means the size is not known yet (no bar, no ETA). */
function progressLines(p: NonNullable<UpdateSnapshot["progress"]>, cols: number): string[] {
  const known = Number.isFinite(p.total) && p.total > 0;
  const rate = Number.isFinite(p.rateBps) && p.rateBps > 0 ? p.rateBps : 0;
  const left = known ? Math.max(0, p.total - p.bytes) : Number.NaN;
  const eta = rate > 0 ? formatEta(left / rate) : "?";
  const amount = known
    ? `${formatBytes(p.bytes)} of ${formatBytes(p.total)}`
    : `${formatBytes(p.bytes)} so far`;
  const speed = rate > 0 ? `at ${formatBytes(rate)}/s` : "stalled (0 B/s)";
  return [
    ...(known ? [`Progress    ${progressBar(p.bytes, p.total, Math.min(40, cols - 12))}`] : []),
    `            ${amount} ${speed}${known ? `, ${eta} left` : ""}`,
  ];
}

/** The slot an update writes to: the other one of an A/B pair, in the same case; none in a dev run. */
function otherSlot(slot: string): string | null {
  const pair: Record<string, string> = { a: "b", b: "a", A: "B", B: "A" };
  return pair[slot] ?? null;
}

function helpBody(ui: UiState): string[] {
  const lines = [
    "Screens   1 overview   2 services   3 events   4 update   Tab/Shift-Tab cycle",
    "Moving    j/k or arrows select or scroll, PgUp/PgDn, Home/End, Enter opens,",
    "          Esc goes back, Ctrl-L redraws the screen",
    "Services  Enter shows a real server's check history; r cycles conns/rates/totals",
  ];
  if (ui.role === "admin") {
    lines.push(
      "",
      "Actions (admin; each one is logged with your name)",
      "  d / e     drain / enable the selected real server (services, history)",
      "  w         set the selected real server's weight",
      "  f / t     fail over the selected VRRP instance / take it back (overview)",
      "  R         reload the config: shows the diff first, then asks to confirm",
      "  u / B     apply an update / reboot (update screen; both ask to confirm)",
    );
  } else {
    lines.push("", "You are a viewer: you can look at everything but change nothing.");
  }
  lines.push("", "The same is on SSH for scripts: ssh USER@BOX help");
  if (ui.allowQuit) lines.push("q ends this session.");
  return lines;
}

function confirmBody(modal: Extract<Modal, { kind: "confirm" }>, cols: number, height: number): string[] {
  const page = Math.max(1, height - 5);
  const shown = modal.lines.slice(modal.scroll, modal.scroll + page);
  const remaining = modal.lines.length - modal.scroll - shown.length;
  return [
    modal.title,
    "",
    ...shown.map((l) => `  ${l}`),
    ...(remaining > 0 ? [fit(`  -- ${remaining} more lines (j/PgDn) --`, cols)] : []),
    "",
    "Apply? y = yes, n = no",
  ];
}

/** `left` and `right` on one line; the right part is cut (not the left) when both do not fit. */
function joinEnds(left: string, right: string, cols: number): string {
  const room = cols - left.length - 1;
  if (room < 4) return fit(left, cols);
  const shown = right.length > room ? fit(right, room) : right;
  return left + " ".repeat(cols - left.length - shown.length) + shown;
}

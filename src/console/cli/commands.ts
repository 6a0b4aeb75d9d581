// The console's command line, for scripts over SSH (`ssh admin@box show services --json`). Reads come
// from a snapshot; changes go through the audited action path, exactly like the TUI's keys.
//
// Exit codes: 0 done, 1 the action failed or a name did not resolve, 2 usage error, 3 permission denied.
import type { Logger } from "pino";
import { type ActionHandler, type Actor, actionAllowed, type OperatorAction } from "../../state/actions.ts";
import type { BoxSnapshot } from "../../state/snapshot.ts";
import { MAX_FAILOVER_PRIORITY, MAX_WEIGHT, parseBoundedInt } from "../action-parse.ts";
import { performAudited } from "../audit.ts";
import { findReal, findService, ipvsadmTable, realId, type TableView } from "../ipvsadm.ts";
import {
  fit,
  fitRight,
  formatClock,
  formatLatency,
  formatTimeOfDay,
  formatUpdatePoll,
  formatUptime,
} from "../text.ts";
import {
  eventsView,
  logView,
  servicesView,
  serviceView,
  statusView,
  updateView,
  vrrpView,
} from "../views.ts";
import { tokenize } from "./tokenize.ts";

export interface CliContext {
  readonly snapshot: () => BoxSnapshot;
  readonly actions: ActionHandler;
  readonly actor: Actor;
  readonly log: Logger;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_DENIED = 3;

const DEFAULT_EVENTS = 50;
const MAX_EVENTS = 10_000;

export const CLI_HELP = `fulcrum console commands (add --json for machine-readable output):
  show status                      hostname, version, boot slot, uptime
  show vrrp                        VRRP instances: state, priority, master, VIPs
  show services [SERVICE] [--rate|--stats]
                                   virtual services and real servers, as ipvsadm -Ln
  show real SERVICE REAL           one real server with its check history
  show events [-n N]               the newest N events (default ${DEFAULT_EVENTS})
  show log [-n N]                  the newest N log lines (default ${DEFAULT_EVENTS})
  show update                      boot slot and update progress
  drain SERVICE REAL               weight 0: no new connections, existing ones finish
  enable SERVICE REAL              back to the configured weight
  weight SERVICE REAL N            set the weight (0-${MAX_WEIGHT}) until the next reload
  failover INSTANCE [PRIORITY]     drop this box's VRRP priority (default 0: give up now)
  failback INSTANCE                restore the configured priority
  reload [--dry-run]               re-read the config: prints the diff, then applies it
  update SOURCE [--force]          apply a signed update image from a URL or path
  reboot                           reboot the box
SERVICE is a service name or its VIP:PORT; REAL is ADDR:PORT (or ADDR when unique).
Exit status: 0 done, 1 failed, 2 usage error, 3 permission denied.
`;

export async function runConsoleCommand(line: string, ctx: CliContext): Promise<CliResult> {
  const tokens = tokenize(line);
  if (!tokens.ok) return usage(tokens.error);
  const json = tokens.words.includes("--json");
  const words = tokens.words.filter((w) => w !== "--json");
  const [verb, ...args] = words;
  try {
    switch (verb) {
      case undefined:
      case "help":
      case "--help":
        return ok(CLI_HELP);
      case "show":
        return show(args, json, ctx.snapshot());
      case "drain":
      case "enable":
      case "weight":
        return realAction(verb, args, json, ctx);
      case "failover":
      case "failback":
        return vrrpAction(verb, args, json, ctx);
      case "reload":
        return reload(args, json, ctx);
      case "update": {
        const force = args.includes("--force");
        const rest = args.filter((a) => a !== "--force");
        if (rest.length !== 1 || rest[0] === undefined) return usage("usage: update SOURCE [--force]");
        return act({ kind: "update", source: rest[0], force }, json, ctx);
      }
      case "reboot":
        if (args.length !== 0) return usage("usage: reboot");
        return act({ kind: "reboot" }, json, ctx);
      default:
        return usage(`unknown command '${verb}'`);
    }
  } catch (err) {
    ctx.log.error({ event: "console.cli_error", who: ctx.actor.who, line, err }, "console command failed");
    return {
      code: EXIT_FAILED,
      stdout: "",
      stderr: `error: ${err instanceof Error ? err.message : String(err)}\n`,
    };
  }
}

function show(args: readonly string[], json: boolean, s: BoxSnapshot): CliResult {
  const [what, ...rest] = args;
  switch (what) {
    case "status":
    case "version":
      return json ? jsonOut(statusView(s)) : ok(statusText(s));
    case "vrrp":
      return json ? jsonOut(vrrpView(s)) : ok(vrrpText(s));
    case "services": {
      const view: TableView = rest.includes("--rate") ? "rate" : rest.includes("--stats") ? "stats" : "conns";
      const names = rest.filter((a) => a !== "--rate" && a !== "--stats");
      if (names.length > 1) return usage("usage: show services [SERVICE] [--rate|--stats]");
      let services = s.services;
      if (names[0] !== undefined) {
        const one = findService(s, names[0]);
        if (!one.ok) return fail(one.error);
        services = [one.value];
      }
      return json
        ? jsonOut(servicesView({ ...s, services }))
        : ok(`${ipvsadmTable(services, view, true).join("\n")}\n`);
    }
    case "real": {
      if (rest.length !== 2) return usage("usage: show real SERVICE REAL");
      const svc = findService(s, rest[0]!);
      if (!svc.ok) return fail(svc.error);
      const real = findReal(svc.value, rest[1]!);
      if (!real.ok) return fail(real.error);
      const view = serviceView({ ...svc.value, realServers: [real.value] }, true);
      return json ? jsonOut(view) : ok(realText(svc.value.name, real.value));
    }
    case "events":
    case "log": {
      let limit = DEFAULT_EVENTS;
      if (rest.length === 2 && rest[0] === "-n") {
        const n = parseBoundedInt(rest[1]!, 1, MAX_EVENTS);
        if (n === null) return usage(`-n takes a number from 1 to ${MAX_EVENTS}`);
        limit = n;
      } else if (rest.length !== 0) return usage(`usage: show ${what} [-n N]`);
      if (what === "log") {
        return json
          ? jsonOut(logView(s, limit))
          : ok(
              (s.log ?? [])
                .slice(-limit)
                .map(
                  (l) => `${formatClock(l.atMs)} ${fit(l.level.toUpperCase(), 5)} ${l.msg}`.trimEnd() + "\n",
                )
                .join(""),
            );
      }
      const events = eventsView(s, limit);
      return json
        ? jsonOut(events)
        : ok(
            s.events
              .slice(-limit)
              .map((e) => `${formatClock(e.atMs)} ${fit(e.event, 24)} ${e.reason}`.trimEnd() + "\n")
              .join(""),
          );
    }
    case "update":
      return json ? jsonOut(updateView(s)) : ok(updateText(s));
    default:
      return usage("usage: show status|vrrp|services|real|events|log|update");
  }
}

async function realAction(
  verb: "drain" | "enable" | "weight",
  args: readonly string[],
  json: boolean,
  ctx: CliContext,
) {
  const wanted = verb === "weight" ? 3 : 2;
  if (args.length !== wanted)
    return usage(`usage: ${verb} SERVICE REAL${verb === "weight" ? " WEIGHT" : ""}`);
  const s = ctx.snapshot();
  const svc = findService(s, args[0]!);
  if (!svc.ok) return fail(svc.error);
  const real = findReal(svc.value, args[1]!);
  if (!real.ok) return fail(real.error);
  const service = svc.value.name;
  const id = realId(real.value);
  if (verb === "weight") {
    const weight = parseBoundedInt(args[2]!, 0, MAX_WEIGHT);
    if (weight === null) return usage(`WEIGHT must be a whole number from 0 to ${MAX_WEIGHT}`);
    return act({ kind: "weight", service, real: id, weight }, json, ctx);
  }
  return act({ kind: verb, service, real: id }, json, ctx);
}

async function vrrpAction(
  verb: "failover" | "failback",
  args: readonly string[],
  json: boolean,
  ctx: CliContext,
) {
  const max = verb === "failover" ? 2 : 1;
  if (args.length < 1 || args.length > max) {
    return usage(verb === "failover" ? "usage: failover INSTANCE [PRIORITY]" : "usage: failback INSTANCE");
  }
  const instance = args[0]!;
  const known = ctx.snapshot().vrrp.map((v) => v.name);
  if (!known.includes(instance))
    return fail(`no VRRP instance '${instance}' (known: ${known.join(", ") || "none"})`);
  if (verb === "failback") return act({ kind: "failback", instance }, json, ctx);
  const priority = args[1] === undefined ? 0 : parseBoundedInt(args[1], 0, MAX_FAILOVER_PRIORITY);
  if (priority === null) return usage(`PRIORITY must be from 0 to ${MAX_FAILOVER_PRIORITY}`);
  return act({ kind: "failover", instance, priority }, json, ctx);
}

async function reload(args: readonly string[], json: boolean, ctx: CliContext): Promise<CliResult> {
  const dryRunOnly = args.includes("--dry-run");
  if (args.some((a) => a !== "--dry-run")) return usage("usage: reload [--dry-run]");
  if (!actionAllowed(ctx.actor.role, { kind: "reload", confirm: false }))
    return act({ kind: "reload", confirm: false }, json, ctx);
  const dry = await performAudited(ctx.actions, ctx.actor, { kind: "reload", confirm: false }, ctx.log);
  const diff = dry.diff ?? [];
  if (!dry.ok || dryRunOnly || diff.length === 0) {
    const text = `${diff.map((l) => `${l}\n`).join("")}${dry.message}\n`;
    const body = json
      ? `${JSON.stringify({ ok: dry.ok, message: dry.message, diff, applied: false }, null, 2)}\n`
      : text;
    return { code: dry.ok ? EXIT_OK : EXIT_FAILED, stdout: body, stderr: "" };
  }
  const applied = await performAudited(ctx.actions, ctx.actor, { kind: "reload", confirm: true }, ctx.log);
  const body = json
    ? `${JSON.stringify({ ok: applied.ok, message: applied.message, diff, applied: applied.ok }, null, 2)}\n`
    : `${diff.map((l) => `${l}\n`).join("")}${applied.message}\n`;
  return { code: applied.ok ? EXIT_OK : EXIT_FAILED, stdout: body, stderr: "" };
}

async function act(action: OperatorAction, json: boolean, ctx: CliContext): Promise<CliResult> {
  const denied = !actionAllowed(ctx.actor.role, action);
  const result = await performAudited(ctx.actions, ctx.actor, action, ctx.log);
  const code = denied ? EXIT_DENIED : result.ok ? EXIT_OK : EXIT_FAILED;
  if (json) {
    const body = {
      ok: result.ok,
      message: result.message,
      action,
      ...(result.diff ? { diff: result.diff } : {}),
    };
    return { code, stdout: `${JSON.stringify(body, null, 2)}\n`, stderr: "" };
  }
  return result.ok
    ? { code, stdout: `${result.message}\n`, stderr: "" }
    : { code, stdout: "", stderr: `${result.message}\n` };
}

// ---------------------------------------------------------------------------------------------
// Text formats

function statusText(s: BoxSnapshot): string {
  return (
    `hostname  ${s.hostname}\nversion   ${s.version} (build ${s.build})\nboot slot ${s.update.bootSlot}\n` +
    `uptime    ${formatUptime(s.nowMs - s.startedAtMs)}\nclock     ${formatClock(s.nowMs)}\n`
  );
}

function vrrpText(s: BoxSnapshot): string {
  const header = `${fit("NAME", 15)} ${fit("IFACE", 9)}${fitRight("VRID", 4)} ${fit("STATE", 7)} ${fit("PRIO", 8)} ${fit("MASTER", 16)} VIPS`;
  const rows = s.vrrp.map((v) => {
    const prio =
      v.effectivePriority === v.priority ? String(v.priority) : `${v.effectivePriority}/${v.priority}`;
    return `${fit(v.name, 15)} ${fit(v.interface, 9)}${fitRight(String(v.vrid), 4)} ${fit(v.state, 7)} ${fit(prio, 8)} ${fit(v.masterAddress ?? "?", 16)} ${v.vips.join(",")}`;
  });
  return [header, ...rows].map((l) => `${l.trimEnd()}\n`).join("");
}

function realText(service: string, r: BoxSnapshot["services"][number]["realServers"][number]): string {
  const lines = [
    `service ${service}  real ${realId(r)}  ${r.method}  health ${r.health}${r.draining ? "  draining" : ""}`,
    `weight ${r.weight} (configured ${r.configuredWeight})  ActiveConn ${r.activeConns}  InActConn ${r.inactiveConns}`,
    `${fit("TIME", 9)} ${fit("RESULT", 6)} ${fitRight("LATENCY", 8)}  REASON`,
    ...r.checks.map(
      (c) =>
        `${fit(formatTimeOfDay(c.atMs), 9)} ${fit(c.ok ? "ok" : "FAIL", 6)} ${fitRight(formatLatency(c.latencyMs), 8)}  ${c.reason}`,
    ),
  ];
  return lines.map((l) => `${l.trimEnd()}\n`).join("");
}

function updateText(s: BoxSnapshot): string {
  const u = s.update;
  const progress = u.progress
    ? `progress  ${u.progress.bytes}/${u.progress.total} bytes at ${u.progress.rateBps} B/s\n`
    : "";
  const poll = u.poll === undefined ? "" : `checks    ${formatUpdatePoll(u.poll)}\n`;
  return `boot slot ${u.bootSlot}\nstate     ${u.state}\n${progress}last      ${u.lastResult || "-"}\n${poll}`;
}

function ok(stdout: string): CliResult {
  return { code: EXIT_OK, stdout, stderr: "" };
}

function jsonOut(value: unknown): CliResult {
  return ok(`${JSON.stringify(value, null, 2)}\n`);
}

function fail(message: string): CliResult {
  return { code: EXIT_FAILED, stdout: "", stderr: `${message}\n` };
}

function usage(message: string): CliResult {
  return { code: EXIT_USAGE, stdout: "", stderr: `${message}\nTry 'help'.\n` };
}

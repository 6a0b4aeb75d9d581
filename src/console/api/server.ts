// The management API: HTTP+JSON on the management interface (Bun.serve). Reads return the same JSON views
// as the SSH CLI's --json; POST /api/v1/actions takes an OperatorAction and goes through the same audited
// path as the TUI; POST /api/v1/update/upload takes an update artifact as its body. Bearer tokens with roles; optionally TLS, and then optionally client certificates
// signed by a given CA. /metrics serves the Prometheus exposition.
import type { Server } from "bun";
import type { Logger } from "pino";
import type { ActionHandler, Actor, Role } from "../../state/actions.ts";
import { actionAllowed } from "../../state/actions.ts";
import type { BoxSnapshot } from "../../state/snapshot.ts";
import { parseAction } from "../action-parse.ts";
import { performAudited } from "../audit.ts";
import { findReal, findService } from "../ipvsadm.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics.ts";
import { resolveAction } from "../resolve.ts";
import {
  eventsView,
  logView,
  servicesView,
  serviceView,
  statusView,
  updateView,
  vrrpView,
} from "../views.ts";
import { type ApiToken, TokenTable } from "./auth.ts";

export interface ApiTlsOptions {
  /** PEM certificate chain and key of the server. */
  readonly cert: string;
  readonly key: string;
  /** PEM CA: when set, clients must present a certificate it signed (mutual TLS). */
  readonly clientCa?: string;
  /** The role of a client authenticated only by its certificate (no bearer token); viewer by default. */
  readonly clientCertRole?: Role;
}

export interface ApiServerOptions {
  readonly listen: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly tokens: readonly ApiToken[];
  readonly snapshot: () => BoxSnapshot;
  readonly actions: ActionHandler;
  readonly log: Logger;
  /** Whether GET /metrics needs a token; false by default, as scrapers on the management network expect. */
  readonly metricsNeedToken?: boolean;
  readonly tls?: ApiTlsOptions;
}

export interface ApiServerHandle {
  readonly port: number;
  readonly url: string;
  setTokens(tokens: readonly ApiToken[]): void;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 64 * 1024;
/** Update uploads (the only large bodies; every other route reads at most MAX_BODY_BYTES). */
export const MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024;
const MAX_EVENTS = 10_000;

type Handler = (req: Request, url: URL, actor: Actor | null) => Promise<Response> | Response;

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServerHandle> {
  let tokens = new TokenTable(opts.tokens);
  const log = opts.log;
  const mtls = opts.tls?.clientCa !== undefined;

  function authenticate(req: Request, server: Server<undefined>): Actor | null {
    const ip = server.requestIP(req)?.address ?? "?";
    const header = req.headers.get("authorization");
    if (header !== null) {
      const token = tokens.authenticate(header);
      return token ? { who: `api:${token.name}@${ip}`, role: token.role } : null;
    }
    // Without a token, a verified client certificate (the TLS layer refused all others) is the credential.
    if (mtls) return { who: `api:client-cert@${ip}`, role: opts.tls?.clientCertRole ?? "viewer" };
    return null;
  }

  const routes: { method: string; pattern: RegExp; auth: boolean; handle: Handler }[] = [
    {
      method: "GET",
      pattern: /^\/metrics$/,
      auth: opts.metricsNeedToken === true,
      handle: () => metrics(opts.snapshot()),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/status$/,
      auth: true,
      handle: () => json(statusView(opts.snapshot())),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/vrrp$/,
      auth: true,
      handle: () => json(vrrpView(opts.snapshot())),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/services$/,
      auth: true,
      handle: () => json(servicesView(opts.snapshot())),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/services\/[^/]+$/,
      auth: true,
      handle: (_r, url) => oneService(url),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/services\/[^/]+\/reals\/[^/]+$/,
      auth: true,
      handle: (_r, url) => oneReal(url),
    },
    { method: "GET", pattern: /^\/api\/v1\/events$/, auth: true, handle: (_r, url) => events(url) },
    { method: "GET", pattern: /^\/api\/v1\/log$/, auth: true, handle: (_r, url) => logTail(url) },
    {
      method: "GET",
      pattern: /^\/api\/v1\/update$/,
      auth: true,
      handle: () => json(updateView(opts.snapshot())),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/update\/upload$/,
      auth: true,
      handle: (req, url, actor) => upload(req, url, actor!),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/actions$/,
      auth: true,
      handle: (req, _u, actor) => action(req, actor!),
    },
  ];

  function oneService(url: URL): Response {
    const name = segment(url, 3);
    const svc = findService(opts.snapshot(), name);
    return svc.ok ? json(serviceView(svc.value, true)) : error(404, "not_found", svc.error);
  }

  function oneReal(url: URL): Response {
    const svc = findService(opts.snapshot(), segment(url, 3));
    if (!svc.ok) return error(404, "not_found", svc.error);
    const real = findReal(svc.value, segment(url, 5));
    if (!real.ok) return error(404, "not_found", real.error);
    return json(serviceView({ ...svc.value, realServers: [real.value] }, true));
  }

  function limitOf(url: URL): number | null {
    const raw = url.searchParams.get("limit") ?? "100";
    const limit = /^\d{1,6}$/.test(raw) ? Math.min(Number(raw), MAX_EVENTS) : 0;
    return limit >= 1 ? limit : null;
  }

  function events(url: URL): Response {
    const limit = limitOf(url);
    if (limit === null) return error(400, "bad_request", `limit must be a number from 1 to ${MAX_EVENTS}`);
    return json(eventsView(opts.snapshot(), limit));
  }

  function logTail(url: URL): Response {
    const limit = limitOf(url);
    if (limit === null) return error(400, "bad_request", `limit must be a number from 1 to ${MAX_EVENTS}`);
    return json(logView(opts.snapshot(), limit));
  }

  /** POST /api/v1/update/upload[?force=true]: the artifact is the body, streamed (never held in memory). */
  async function upload(req: Request, url: URL, actor: Actor): Promise<Response> {
    const force = url.searchParams.get("force") === "true";
    if (opts.actions.upload === undefined || req.body === null)
      return error(400, "bad_request", "send the update artifact as the request body");
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > MAX_UPLOAD_BYTES)
      return error(413, "too_large", `an update artifact is at most ${MAX_UPLOAD_BYTES} bytes`);
    const result = await opts.actions.upload(actor, req.body, force);
    return json(
      { ok: result.ok, message: result.message },
      result.ok ? 200 : actor.role === "admin" ? 409 : 403,
    );
  }

  async function action(req: Request, actor: Actor): Promise<Response> {
    const body = await readJson(req);
    if (!body.ok) return body.response;
    const parsed = parseAction(body.value);
    if (!parsed.ok) return error(400, "bad_action", parsed.error);
    if (!actionAllowed(actor.role, parsed.action)) {
      // Logged (with the refusal) by the audited path, then answered 403.
      const denied = await performAudited(opts.actions, actor, parsed.action, log);
      return error(403, "forbidden", denied.message);
    }
    const resolved = resolveAction(opts.snapshot(), parsed.action);
    if (!resolved.ok) return error(404, "not_found", resolved.error);
    const result = await performAudited(opts.actions, actor, resolved.action, log);
    const payload = {
      ok: result.ok,
      message: result.message,
      action: resolved.action,
      ...(result.diff ? { diff: result.diff } : {}),
    };
    return json(payload, result.ok ? 200 : 409);
  }

  const server = Bun.serve({
    hostname: opts.listen,
    port: opts.port,
    maxRequestBodySize: MAX_UPLOAD_BYTES,
    ...(opts.tls
      ? {
          tls: {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ...(opts.tls.clientCa
              ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true }
              : {}),
          },
        }
      : {}),
    fetch: async (req, srv) => {
      try {
        const url = new URL(req.url);
        const matching = routes.filter((r) => r.pattern.test(url.pathname));
        if (matching.length === 0) return error(404, "not_found", `no such endpoint: ${url.pathname}`);
        const route = matching.find(
          (r) => r.method === req.method || (req.method === "HEAD" && r.method === "GET"),
        );
        if (!route) {
          const allow = [...new Set(matching.map((r) => r.method))].join(", ");
          return error(405, "method_not_allowed", `use ${allow}`, { Allow: allow });
        }
        let actor: Actor | null = null;
        if (route.auth) {
          actor = authenticate(req, srv);
          if (actor === null) {
            log.warn(
              { event: "console.api_auth_failed", remote: srv.requestIP(req)?.address, path: url.pathname },
              "API request refused",
            );
            return error(401, "unauthorized", "a valid bearer token is required", {
              "WWW-Authenticate": 'Bearer realm="fulcrum"',
            });
          }
        }
        return await route.handle(req, url, actor);
      } catch (err) {
        log.error({ event: "console.api_error", err }, "API request failed");
        return error(500, "internal", "internal error; see the box's log");
      }
    },
    error: (err) => {
      log.error({ event: "console.api_error", err }, "API server error");
      return error(500, "internal", "internal error; see the box's log");
    },
  });
  const port = server.port ?? opts.port;
  const scheme = opts.tls ? "https" : "http";
  const host = opts.listen.includes(":") ? `[${opts.listen}]` : opts.listen;
  log.info(
    {
      event: "console.api_listening",
      listen: opts.listen,
      port,
      tls: opts.tls !== undefined,
      mtls,
      tokens: tokens.size,
    },
    `management API on ${scheme}://${host}:${port}`,
  );
  return {
    port,
    url: `${scheme}://${host}:${port}`,
    setTokens: (next) => {
      tokens = new TokenTable(next);
    },
    close: async () => {
      await server.stop(true);
    },
  };
}

function segment(url: URL, index: number): string {
  const raw = url.pathname.split("/")[index + 1] ?? "";
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

async function readJson(
  req: Request,
): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES)
    return { ok: false, response: error(413, "too_large", `body over ${MAX_BODY_BYTES} bytes`) };
  const reader = req.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        return { ok: false, response: error(413, "too_large", `body over ${MAX_BODY_BYTES} bytes`) };
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, response: error(400, "bad_json", "the body must be a JSON object") };
  }
}

function json(value: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(value, null, 2)}\n`, {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

function metrics(snapshot: BoxSnapshot): Response {
  return new Response(renderMetrics(snapshot), {
    headers: { "Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store" },
  });
}

function error(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(`${JSON.stringify({ error: { code, message } })}\n`, {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

// Bounded client load for the HA lab, run inside the client namespace:
//   ip netns exec flab-ha-cl bun test/helpers/ha-load.ts '{"web":"10.0.1.100","db":"10.0.1.110",...}'
// Three kinds of traffic, each reported as one JSON line per request on stdout (read by HaLoad in
// ha-lab.ts): "fresh" HTTP requests each on a new connection, "ka" HTTP requests on long-lived keep-alive
// connections, and "my" MySQL sessions running a query in a loop. A keep-alive or MySQL session that
// breaks is reported once ("ka-lost"/"my-lost") and replaced by a new one. Stops on "stop" or EOF on stdin.
import { connect, type Socket } from "node:net";
import mysql from "mysql2/promise";

export interface LoadSpec {
  readonly web: string;
  readonly db: string;
  /** Workers sending requests on fresh connections, one after another. */
  readonly fresh: number;
  readonly keepalive: number;
  readonly mysql: number;
  readonly user: string;
  readonly password: string;
  /** A fresh request that has not been answered by then counts as failed. */
  readonly freshTimeoutMs: number;
  /** Pause between requests of one worker or session. */
  readonly pauseMs: number;
}

export type LoadRecord =
  | { k: "fresh" | "ka" | "my"; s: number; t: number; ok: true; srv: string; ms: number }
  | { k: "fresh"; s: number; t: number; ok: false; err: string; ms: number }
  | { k: "ka-lost" | "my-lost"; s: number; t: number; ok: false; err: string }
  | { k: "ka-open" | "my-open"; s: number; t: number; ok: true; srv: string };

const MAX_RESPONSE_BYTES = 64 * 1024;
/** A keep-alive or MySQL request unanswered this long (TCP still retrying) ends its session as lost. */
const SESSION_REQUEST_TIMEOUT_MS = 30_000;

function emit(r: LoadRecord): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

let stopping = false;
let nextSession = 1;

/** One HTTP/1.1 exchange on `socket`; resolves with the body (the real server's name). */
function exchange(socket: Socket, host: string, close: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("latin1");
      if (buf.length > MAX_RESPONSE_BYTES) return done(new Error("response too large"));
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? "0");
      if (buf.length < end + 4 + length) return;
      done(null, buf.slice(end + 4, end + 4 + length).trim());
    };
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error("connection closed"));
    const done = (err: Error | null, body = "") => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (err) reject(err);
      else resolve(body);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: ${close ? "close" : "keep-alive"}\r\n\r\n`);
  });
}

function open(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

async function freshWorker(spec: LoadSpec): Promise<void> {
  const s = nextSession++;
  while (!stopping) {
    const t0 = performance.now();
    let socket: Socket | undefined;
    try {
      const body = await withTimeout(
        (async () => {
          socket = await open(spec.web, 80);
          return exchange(socket, spec.web, true);
        })(),
        spec.freshTimeoutMs,
      );
      emit({ k: "fresh", s, t: Date.now(), ok: true, srv: body, ms: Math.round(performance.now() - t0) });
    } catch (err) {
      emit({
        k: "fresh",
        s,
        t: Date.now(),
        ok: false,
        err: message(err),
        ms: Math.round(performance.now() - t0),
      });
    } finally {
      socket?.destroy();
    }
    await Bun.sleep(spec.pauseMs);
  }
}

async function keepaliveSession(spec: LoadSpec): Promise<void> {
  while (!stopping) {
    const s = nextSession++;
    let socket: Socket | undefined;
    try {
      socket = await withTimeout(open(spec.web, 80), spec.freshTimeoutMs);
      const first = await exchange(socket, spec.web, false);
      emit({ k: "ka-open", s, t: Date.now(), ok: true, srv: first });
      while (!stopping) {
        const t0 = performance.now();
        const body = await withTimeout(exchange(socket, spec.web, false), SESSION_REQUEST_TIMEOUT_MS);
        emit({ k: "ka", s, t: Date.now(), ok: true, srv: body, ms: Math.round(performance.now() - t0) });
        await Bun.sleep(spec.pauseMs);
      }
    } catch (err) {
      if (!stopping) emit({ k: "ka-lost", s, t: Date.now(), ok: false, err: message(err) });
      await Bun.sleep(spec.pauseMs);
    } finally {
      socket?.destroy();
    }
  }
}

async function mysqlSession(spec: LoadSpec): Promise<void> {
  while (!stopping) {
    const s = nextSession++;
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({
        host: spec.db,
        port: 3306,
        user: spec.user,
        password: spec.password,
        connectTimeout: spec.freshTimeoutMs,
      });
      const serverId = async () => {
        const [rows] = await conn!.query({
          sql: "SELECT @@server_id AS id",
          timeout: SESSION_REQUEST_TIMEOUT_MS,
        });
        return `db${(rows as { id: number }[])[0]?.id ?? "?"}`;
      };
      emit({ k: "my-open", s, t: Date.now(), ok: true, srv: await serverId() });
      while (!stopping) {
        const t0 = performance.now();
        const srv = await serverId();
        emit({ k: "my", s, t: Date.now(), ok: true, srv, ms: Math.round(performance.now() - t0) });
        await Bun.sleep(spec.pauseMs);
      }
    } catch (err) {
      if (!stopping) emit({ k: "my-lost", s, t: Date.now(), ok: false, err: message(err) });
      await Bun.sleep(spec.pauseMs);
    } finally {
      conn?.destroy();
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? "{}") as LoadSpec;
  const runs = [
    ...Array.from({ length: spec.fresh }, () => freshWorker(spec)),
    ...Array.from({ length: spec.keepalive }, () => keepaliveSession(spec)),
    ...Array.from({ length: spec.mysql }, () => mysqlSession(spec)),
  ];
  for await (const line of console) {
    if (line.trim() === "stop") break;
  }
  stopping = true;
  await Promise.race([Promise.allSettled(runs), Bun.sleep(3_000)]);
  process.exit(0);
}

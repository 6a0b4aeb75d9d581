// MySQL / MariaDB checks.
//
// greeting: read the server's greeting (or its error packet: "Host blocked", "Too many connections"),
// then, with a check user, log in with an empty password and COM_QUIT: the server sees a complete,
// successful connection. A check that just hangs up after the greeting counts in Aborted_connects and in
// the host's connect errors, and after max_connect_errors of them the server blocks the whole LB host.
// Without a user the check sends COM_QUIT straight after the greeting (see docs/health.md for the cost).
//
// query: log in with user/password through mysql2 (caching_sha2_password, MariaDB's native and ed25519
// plugins handled by the library), run the query, optionally require the server to be writable or a
// replica's lag to stay under a bound, and close with COM_QUIT (conn.end()).
import { createConnection as netConnect, type Socket } from "node:net";
import type mysql from "mysql2";
import type { Checker, MysqlCheckSpec } from "../types.ts";
import { describeError, oneShot } from "./common.ts";
import {
  COM_QUIT,
  framePacket,
  type Greeting,
  handshakeResponse,
  isErrorPacket,
  MysqlProtocolError,
  PacketReader,
  parseError,
  parseGreeting,
} from "./mysql-proto.ts";

export const mysqlChecker: Checker<MysqlCheckSpec> = (spec, target, signal) =>
  spec.mode === "greeting" ? greetingCheck(spec, target, signal) : queryCheck(spec, target, signal);

const greetingCheck: Checker<MysqlCheckSpec> = (spec, target, signal) => {
  let sock: Socket | undefined;
  return oneShot(
    signal,
    spec.timeoutMs,
    (settle) => {
      const s = netConnect({
        host: target.address,
        port: target.port,
        family: target.family,
        ...(spec.source === undefined ? {} : { localAddress: spec.source }),
      });
      sock = s;
      const reader = new PacketReader();
      let greeting: Greeting | undefined;
      let authSwitches = 0;
      const quit = (reason: string) => {
        // COM_QUIT, then our FIN once it is flushed; the server closes its side without counting an error.
        s.end(framePacket(0, COM_QUIT), () => settle(true, reason));
      };
      s.on("data", (chunk: Buffer) => {
        let packets: ReturnType<PacketReader["push"]>;
        try {
          packets = reader.push(chunk);
        } catch (err) {
          return settle(false, `MySQL protocol: ${(err as Error).message}`);
        }
        for (const p of packets) {
          if (isErrorPacket(p.payload)) {
            const e = parseError(p.payload);
            return settle(false, `MySQL error ${e.code}: ${e.message.slice(0, 160)}`);
          }
          if (greeting === undefined) {
            try {
              greeting = parseGreeting(p.payload);
            } catch (err) {
              const msg = err instanceof MysqlProtocolError ? err.message : describeError(err);
              return settle(false, `MySQL protocol: ${msg}`);
            }
            const hello = `MySQL ${greeting.serverVersion}`;
            if (spec.user === undefined || spec.user === "") return quit(hello);
            s.write(framePacket(p.seq + 1, handshakeResponse(greeting, spec.user)));
            continue;
          }
          const kind = p.payload[0];
          if (kind === 0x00) return quit(`MySQL ${greeting.serverVersion}, logged in as ${spec.user}`);
          if (kind === 0xfe && authSwitches++ === 0) {
            s.write(framePacket(p.seq + 1, Buffer.alloc(0))); // auth switch: still an empty password
            continue;
          }
          return settle(
            false,
            `MySQL protocol: unexpected packet 0x${(kind ?? 0).toString(16)} during login`,
          );
        }
      });
      s.once("end", () => settle(false, "MySQL closed the connection"));
      s.once("error", (err) => settle(false, describeError(err)));
    },
    () => {
      sock?.removeAllListeners();
      sock?.on("error", () => {});
      sock?.destroy();
    },
  );
};

interface Row {
  readonly [column: string]: unknown;
}

const queryCheck: Checker<MysqlCheckSpec> = (spec, target, signal) => {
  let conn: mysql.Connection | undefined;
  let ended = false;
  return oneShot(
    signal,
    spec.timeoutMs,
    (settle) => {
      // Loaded on the first MySQL check: most boxes never run one, and evaluating it slows every boot.
      const { createConnection } = require("mysql2") as typeof import("mysql2");
      const c = createConnection({
        host: target.address,
        port: target.port,
        user: spec.user ?? "",
        password: spec.password ?? "",
        connectTimeout: spec.timeoutMs,
        ...(spec.source === undefined ? {} : { localAddress: spec.source }),
      });
      conn = c;
      c.on("error", (err) => settle(false, mysqlError(err)));
      const query = (sql: string): Promise<Row[]> =>
        new Promise((resolve, reject) => {
          c.query(sql, (err, rows) =>
            err ? reject(err) : resolve(Array.isArray(rows) ? (rows as Row[]) : []),
          );
        });
      const run = async (): Promise<[boolean, string]> => {
        await query(spec.query);
        if (spec.requireWritable) {
          const rows = await query("SELECT @@global.read_only AS ro");
          if (Number(rows[0]?.["ro"] ?? 1) !== 0) return [false, "MySQL is read-only"];
        }
        if (spec.maxReplicationLagS !== undefined) {
          let rows: Row[];
          try {
            rows = await query("SHOW REPLICA STATUS");
          } catch {
            rows = await query("SHOW SLAVE STATUS"); // older servers
          }
          const status = rows[0];
          if (status !== undefined) {
            const lag = status["Seconds_Behind_Source"] ?? status["Seconds_Behind_Master"];
            if (lag === null || lag === undefined) return [false, "MySQL replication is not running"];
            if (Number(lag) > spec.maxReplicationLagS) {
              return [false, `MySQL replica ${lag} s behind (max ${spec.maxReplicationLagS} s)`];
            }
            return [true, `MySQL ok, replica ${lag} s behind`];
          }
        }
        return [true, "MySQL ok"];
      };
      run().then(
        ([ok, reason]) => {
          ended = true;
          // COM_QUIT and a clean close; the verdict does not wait for the server's FIN.
          c.end(() => {});
          settle(ok, reason);
        },
        (err) => settle(false, mysqlError(err)),
      );
    },
    () => {
      if (conn !== undefined && !ended) {
        conn.removeAllListeners("error");
        conn.on("error", () => {});
        conn.destroy();
      }
    },
  );
};

function mysqlError(err: unknown): string {
  const e = err as { errno?: unknown; sqlMessage?: unknown; code?: unknown } | null;
  if (typeof e?.errno === "number" && typeof e.sqlMessage === "string") {
    return `MySQL error ${e.errno}: ${e.sqlMessage.slice(0, 160)}`;
  }
  return describeError(err);
}

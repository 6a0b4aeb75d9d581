// TCP_CHECK: the server accepts a connection. Closed at once with FIN (no data exchanged).
import { createConnection, type Socket } from "node:net";
import type { Checker, TcpCheckSpec } from "../types.ts";
import { describeError, oneShot } from "./common.ts";

export const tcpChecker: Checker<TcpCheckSpec> = (spec, target, signal) => {
  let sock: Socket | undefined;
  return oneShot(
    signal,
    spec.timeoutMs,
    (settle) => {
      sock = createConnection({
        host: target.address,
        port: target.port,
        family: target.family,
        ...(spec.source === undefined ? {} : { localAddress: spec.source }),
      });
      sock.once("connect", () => settle(true, "connected"));
      sock.once("error", (err) => settle(false, describeError(err)));
    },
    () => {
      sock?.removeAllListeners();
      sock?.on("error", () => {});
      sock?.destroy();
    },
  );
};

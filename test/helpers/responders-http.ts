// An HTTP/HTTPS responder for health-check tests, run inside a namespace by test/helpers/responders.ts:
//   bun responders-http.ts ADDRESS PORT [CERT KEY]
// It is told how to behave on stdin, one word a line: ok | fail | slow | close | hang.
//   ok    200 with a body naming the Host header and the TLS server name
//   fail  503
//   slow  200 after 3 s (longer than any test timeout)
//   close accept, then close without a response
// It prints "ready" once listening and "mode <m>" after each change, so the test can wait for it.

import { readFileSync } from "node:fs";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";

const [address, portText, certFile, keyFile] = process.argv.slice(2);
if (address === undefined || portText === undefined) {
  console.error("usage: responders-http.ts ADDRESS PORT [CERT KEY]");
  process.exit(2);
}
let mode = "ok";
const MAX_REQUEST = 16 * 1024;

function handle(sock: Socket | TLSSocket): void {
  sock.on("error", () => {});
  if (mode === "close") {
    sock.destroy();
    return;
  }
  let buf = "";
  sock.on("data", (chunk: Buffer) => {
    buf += chunk.toString("latin1");
    if (buf.length > MAX_REQUEST) return sock.destroy();
    if (!buf.includes("\r\n\r\n")) return;
    const host = /\r\nhost: *([^\r]*)/i.exec(buf)?.[1] ?? "";
    const sni = (sock as TLSSocket).servername || "";
    const answer = (status: number, body: string) => {
      sock.end(
        `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Service Unavailable"}\r\n` +
          `Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
          `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      );
    };
    if (mode === "fail") answer(503, "down for maintenance\n");
    else if (mode === "slow") setTimeout(() => answer(200, "slow but fine\n"), 3000);
    else answer(200, `healthy host=${host} sni=${sni}\n`);
  });
}

const server: Server =
  certFile !== undefined && keyFile !== undefined
    ? createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handle)
    : createNetServer(handle);
server.listen({ port: Number(portText), host: address, backlog: 4096 }, () => console.log("ready"));

let line = "";
process.stdin.on("data", (chunk: Buffer) => {
  line += chunk.toString();
  for (let nl = line.indexOf("\n"); nl >= 0; nl = line.indexOf("\n")) {
    const word = line.slice(0, nl).trim();
    line = line.slice(nl + 1);
    if (["ok", "fail", "slow", "close"].includes(word)) mode = word;
    console.log(`mode ${mode}`);
  }
});
process.stdin.on("end", () => process.exit(0));

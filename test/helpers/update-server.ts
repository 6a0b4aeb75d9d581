// A static file server for update tests, run inside the test's namespace:
//   bun update-server.ts PORT DIR
// GET /<file> serves DIR/<file>; GET /cut/<file> announces the whole length but closes the connection
// after half of it (a download cut off mid-way). Prints "ready" once listening.
import { readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { basename, join } from "node:path";

const [portText, dir] = process.argv.slice(2);
if (portText === undefined || dir === undefined) {
  console.error("usage: update-server.ts PORT DIR");
  process.exit(2);
}

function respond(sock: Socket, path: string): void {
  const cut = path.startsWith("/cut/");
  const name = basename(path);
  let body: Buffer;
  try {
    body = readFileSync(join(dir as string, name));
  } catch {
    sock.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  sock.write(
    `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  if (cut) {
    sock.write(body.subarray(0, body.length >> 1), () => sock.destroy());
  } else {
    sock.end(body);
  }
}

createServer((sock) => {
  sock.on("error", () => {});
  let head = "";
  sock.on("data", (chunk: Buffer) => {
    head += chunk.toString("latin1");
    if (head.length > 16 * 1024) sock.destroy();
    const m = /^GET (\S+) HTTP\/1\.[01]\r\n[\s\S]*?\r\n\r\n/.exec(head);
    if (m?.[1] !== undefined) respond(sock, m[1]);
  });
}).listen(Number(portText), "0.0.0.0", () => console.log("ready"));

// A minimal, fast HTTP responder for the benchmark: Bun.serve answering every request with 200 "ok".
//   bun responders-fast.ts ADDRESS PORT
// Several of them can share the port (SO_REUSEPORT), so bursts of connections spread over several
// accept queues instead of overflowing one. Prints "ready" once listening.
const [address = "0.0.0.0", portText = "8080"] = process.argv.slice(2);

Bun.serve({
  hostname: address,
  port: Number(portText),
  reusePort: true,
  fetch: () => new Response("ok\n", { headers: { "content-type": "text/plain" } }),
});
console.log("ready");

export {};

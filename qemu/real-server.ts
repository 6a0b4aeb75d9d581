// A tiny HTTP real server for the lab: answers every request with its own name (and the client's
// address), so a client can see which real server IPVS picked. Run inside a namespace:
//   ip netns exec flab-rs1 bun qemu/real-server.ts rs1 80
const [name = "real-server", portText = "80"] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`real-server: bad port ${portText}`);
  process.exit(2);
}
const server = Bun.serve({
  port,
  hostname: "0.0.0.0",
  // Keep-alive connections may sit out a director failover of several seconds (nginx keeps them 75 s).
  idleTimeout: 75,
  fetch(req, srv) {
    const from = srv.requestIP(req)?.address ?? "?";
    return new Response(`${name}\n`, { headers: { "x-real-server": name, "x-client": from } });
  },
});
console.log(`real-server ${name} listening on ${server.hostname}:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

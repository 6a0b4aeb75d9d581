// Each checker against real servers in a namespace: HTTP/HTTPS responders, dnsmasq, a TCP listener,
// and exec scripts. Root only (namespaces); skipped otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dnsChecker } from "../../src/health/checkers/dns.ts";
import { execChecker } from "../../src/health/checkers/exec.ts";
import { httpChecker } from "../../src/health/checkers/http.ts";
import { tcpChecker } from "../../src/health/checkers/tcp.ts";
import type { CheckTarget, DnsCheckSpec, HttpCheckSpec } from "../../src/health/types.ts";
import {
  type HttpResponder,
  isRoot,
  Lab,
  type Proc,
  selfSignedCert,
  startDnsmasq,
  startHttp,
  waitFor,
} from "../helpers/responders.ts";

const timing = { intervalMs: 1000, timeoutMs: 400, rise: 1, fall: 1, jitterMs: 0 };
const signal = () => AbortSignal.timeout(timing.timeoutMs);

describe.skipIf(!isRoot)("health checkers against real servers in a namespace", () => {
  let lab: Lab;
  let http: HttpResponder;
  let https: HttpResponder;
  let dns: Proc;
  let target: CheckTarget;
  let tlsTarget: CheckTarget;
  let dnsTarget: CheckTarget;
  const httpSpec = (over: Partial<HttpCheckSpec> = {}): HttpCheckSpec => ({
    type: "http",
    ...timing,
    path: "/health",
    expect: [{ min: 200, max: 299 }],
    verify: false,
    ...over,
  });

  beforeAll(async () => {
    lab = await Lab.create("c");
    http = await startHttp(lab, lab.serverIp(0), 8080);
    const cert = await selfSignedCert(lab, "web.fhc.test", lab.serverIp(1));
    https = await startHttp(lab, lab.serverIp(1), 8443, cert);
    await startHttp(lab, lab.serverIp6(0), 8080);
    dns = await startDnsmasq(lab, [lab.serverIp(2), lab.serverIp6(2)], {
      "web.fhc.test": "10.0.1.53",
      "v6.fhc.test": "2001:db8::53",
    });
    target = { family: 4, address: lab.serverIp(0), port: 8080 };
    tlsTarget = { family: 4, address: lab.serverIp(1), port: 8443 };
    dnsTarget = { family: 4, address: lab.serverIp(2), port: 53 };
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  }, 60_000);

  test("tcp: connect succeeds, a closed port is refused, the source address is honoured", async () => {
    expect(await tcpChecker({ type: "tcp", ...timing }, target, signal())).toMatchObject({
      ok: true,
      reason: "connected",
    });
    const refused = await tcpChecker({ type: "tcp", ...timing }, { ...target, port: 8081 }, signal());
    expect(refused).toMatchObject({ ok: false, reason: "connection refused" });
    const fromSecond = await tcpChecker({ type: "tcp", ...timing, source: lab.hostIp2 }, target, signal());
    expect(fromSecond.ok).toBe(true);
    const badSource = await tcpChecker(
      { type: "tcp", ...timing, source: "10.255.255.254" },
      target,
      signal(),
    );
    expect(badSource.ok).toBe(false);
  });

  test("http: status ranges, body regex, digest, Host header, and each failure mode", async () => {
    const ok = await httpChecker(
      httpSpec({ host: "web.fhc.test", bodyRegex: "host=web\\.fhc\\.test" }),
      target,
      signal(),
    );
    expect(ok).toMatchObject({ ok: true, reason: "HTTP 200" });
    const digestOf = (await Bun.CryptoHasher.hash(
      "md5",
      `healthy host=${lab.serverIp(0)}:8080 sni=\n`,
      "hex",
    )) as string;
    expect((await httpChecker(httpSpec({ bodyMd5: digestOf }), target, signal())).ok).toBe(true);
    const badDigest = await httpChecker(httpSpec({ bodyMd5: "0".repeat(32) }), target, signal());
    expect(badDigest.reason).toContain("body MD5");
    expect((await httpChecker(httpSpec({ bodyRegex: "^nope" }), target, signal())).reason).toBe(
      "HTTP 200, body does not match /^nope/",
    );
    await http.setMode("fail");
    expect(await httpChecker(httpSpec(), target, signal())).toMatchObject({ ok: false, reason: "HTTP 503" });
    expect(
      (
        await httpChecker(
          httpSpec({
            expect: [
              { min: 200, max: 299 },
              { min: 503, max: 503 },
            ],
          }),
          target,
          signal(),
        )
      ).ok,
    ).toBe(true);
    await http.setMode("slow");
    const slow = await httpChecker(httpSpec(), target, signal());
    expect(slow).toMatchObject({ ok: false, reason: "timeout after 400 ms" });
    expect(slow.latencyMs).toBeGreaterThanOrEqual(390);
    await http.setMode("close");
    // FIN before our request, or RST when it closes with our request unread: both are a failed check
    const closed = await httpChecker(httpSpec(), target, signal());
    expect(closed.ok).toBe(false);
    expect(closed.reason).toMatch(/^(connection closed before a response|connection reset)$/);
    await http.setMode("ok");
    expect((await httpChecker(httpSpec({ source: lab.hostIp2 }), target, signal())).ok).toBe(true);
  });

  test("https: SNI, optional certificate verification", async () => {
    const spec = httpSpec({ type: "https", host: "web.fhc.test", bodyRegex: "sni=web\\.fhc\\.test" });
    expect(await httpChecker(spec, tlsTarget, signal())).toMatchObject({ ok: true, reason: "HTTP 200" });
    const sni = await httpChecker(
      { ...spec, sni: "other.fhc.test", bodyRegex: "sni=other" },
      tlsTarget,
      signal(),
    );
    expect(sni.ok).toBe(true);
    const verified = await httpChecker({ ...spec, verify: true }, tlsTarget, signal());
    expect(verified.ok).toBe(false);
    expect(verified.reason.toLowerCase()).toMatch(/self[- ]signed|certificate/);
    const plainToTls = await httpChecker(httpSpec(), tlsTarget, signal());
    expect(plainToTls.ok).toBe(false);
    await https.setMode("fail");
    expect(await httpChecker(spec, tlsTarget, signal())).toMatchObject({ ok: false, reason: "HTTP 503" });
    await https.setMode("ok");
  });

  test("dns over udp and tcp: rcode and answers from dnsmasq", async () => {
    const spec = (over: Partial<DnsCheckSpec>): DnsCheckSpec => ({
      type: "dns",
      ...timing,
      name: "web.fhc.test",
      recordType: "A",
      rcode: "NOERROR",
      transport: "udp",
      ...over,
    });
    expect(await dnsChecker(spec({ answer: "10.0.1.53" }), dnsTarget, signal())).toMatchObject({
      ok: true,
      reason: "DNS NOERROR, 10.0.1.53 in answers",
    });
    expect((await dnsChecker(spec({ answer: "10.0.1.53", transport: "tcp" }), dnsTarget, signal())).ok).toBe(
      true,
    );
    expect(
      (
        await dnsChecker(
          spec({ recordType: "AAAA", name: "v6.fhc.test", answer: "2001:db8::53" }),
          dnsTarget,
          signal(),
        )
      ).ok,
    ).toBe(true);
    const wrong = await dnsChecker(spec({ answer: "10.9.9.9" }), dnsTarget, signal());
    expect(wrong).toMatchObject({ ok: false, reason: "DNS NOERROR, 10.9.9.9 not in answers [10.0.1.53]" });
    const nx = await dnsChecker(spec({ name: "missing.fhc.test" }), dnsTarget, signal());
    expect(nx).toMatchObject({ ok: false, reason: "DNS NXDOMAIN, expected NOERROR" });
    expect(
      (await dnsChecker(spec({ name: "missing.fhc.test", rcode: "NXDOMAIN" }), dnsTarget, signal())).ok,
    ).toBe(true);
    expect((await dnsChecker(spec({ source: lab.hostIp2 }), dnsTarget, signal())).ok).toBe(true);
    dns.signal("SIGSTOP");
    try {
      expect(await dnsChecker(spec({}), dnsTarget, signal())).toMatchObject({
        ok: false,
        reason: "timeout after 400 ms",
      });
    } finally {
      dns.signal("SIGCONT");
    }
  });

  test("IPv6: tcp, http (Host header with brackets), dns over udp6 and tcp", async () => {
    const v6: CheckTarget = { family: 6, address: lab.serverIp6(0), port: 8080 };
    expect((await tcpChecker({ type: "tcp", ...timing }, v6, signal())).ok).toBe(true);
    expect((await tcpChecker({ type: "tcp", ...timing, source: lab.hostIp6 }, v6, signal())).ok).toBe(true);
    const page = await httpChecker(
      httpSpec({ bodyRegex: `host=\\[${lab.serverIp6(0)}\\]:8080` }),
      v6,
      signal(),
    );
    expect(page).toMatchObject({ ok: true, reason: "HTTP 200" });
    const dns6: CheckTarget = { family: 6, address: lab.serverIp6(2), port: 53 };
    for (const transport of ["udp", "tcp"] as const) {
      const r = await dnsChecker(
        {
          type: "dns",
          ...timing,
          name: "web.fhc.test",
          recordType: "A",
          rcode: "NOERROR",
          answer: "10.0.1.53",
          transport,
        },
        dns6,
        signal(),
      );
      expect(r).toMatchObject({ ok: true });
    }
  });

  test("exec: exit codes decide, dynamic weight, and a timeout kills the whole process group", async () => {
    const dir = lab.tempDir();
    const script = join(dir, "check.sh");
    const marker = join(dir, "child.pid");
    writeFileSync(
      script,
      `#!/bin/sh\n# $1 = mode\ncase "$1" in\n up) exit 0;; down) echo "backend says no"; exit 1;; w7) exit 9;;\n` +
        ` hang) sleep 30 & echo $! > ${marker}; wait;;\nesac\n`,
    );
    chmodSync(script, 0o755);
    const ex = (mode: string, dynamicWeight = false) =>
      execChecker({ type: "exec", ...timing, argv: [script, mode], dynamicWeight }, target, signal());
    expect(await ex("up")).toMatchObject({ ok: true, reason: "exit 0" });
    expect(await ex("down")).toMatchObject({ ok: false, reason: "exit 1: backend says no" });
    expect(await ex("w7")).toMatchObject({ ok: false, reason: "exit 9" });
    expect(await ex("w7", true)).toMatchObject({ ok: true, reason: "exit 9", weight: 7 });
    const hung = await ex("hang");
    expect(hung).toMatchObject({ ok: false, reason: "timeout after 400 ms" });
    const childPid = Number(await Bun.file(marker).text());
    // the grandchild (sleep) dies with its group: SIGTERM, then SIGKILL after the grace
    await waitFor(
      () => !existsSync(`/proc/${childPid}`) || undefined,
      3000,
      `sleep ${childPid} to be killed`,
    );
  });
});

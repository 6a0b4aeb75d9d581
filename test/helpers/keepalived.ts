// keepalived as a VRRP peer in tests and benchmarks: in the foreground, logging to stderr, with its pid
// files under the caller's directory (never /run, which other keepalived instances may use).
export function keepalivedArgv(conf: string, pidBase: string): string[] {
  return [
    "keepalived",
    "-n", // foreground
    "-l", // log to the console (stderr)
    "-D", // detailed log
    "-P", // VRRP only
    "-f",
    conf,
    "-p",
    `${pidBase}.pid`,
    "-r",
    `${pidBase}-vrrp.pid`,
    "-c",
    `${pidBase}-chk.pid`,
  ];
}

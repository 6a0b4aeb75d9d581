// Command-line dispatch. Each command returns its exit code; nothing here calls process.exit,
// so commands stay testable and the daemon can shut down in order.
import { VERSION_LINE } from "../version.ts";
import { checkCommand } from "./check.ts";
import { runCommand } from "./run.ts";

const USAGE = `usage: fulcrum <command> [args]

commands:
  run CONFIG      run the appliance daemon with the given TOML config
  check CONFIG    validate a config; prints FILE:LINE:COL: message per problem, exit 1 if any
  --version       print the version and build id
  help            print this text
`;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const stdio: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export async function runCli(argv: readonly string[], io: CliIo = stdio): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "--version":
    case "version":
      io.out(`${VERSION_LINE}\n`);
      return 0;
    case "check":
      return oneArg("check", rest, io, (path) => checkCommand(path, io));
    case "run":
      return oneArg("run", rest, io, (path) => runCommand(path, io));
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.err(`fulcrum: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

async function oneArg(
  name: string,
  rest: readonly string[],
  io: CliIo,
  fn: (path: string) => Promise<number>,
): Promise<number> {
  if (rest.length !== 1 || rest[0] === undefined) {
    io.err(`fulcrum ${name}: expected exactly one CONFIG path\n`);
    return 2;
  }
  return fn(rest[0]);
}

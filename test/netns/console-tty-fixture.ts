// Runs the console TUI on this process's own terminal (stdin/stdout), for console-tty.test.ts to drive
// through tmux. Actions reaching the handler are appended as JSON lines to the file named in argv[2].
import { appendFileSync } from "node:fs";
import pino from "pino";
import { startTtyConsole } from "../../src/console/tty.ts";
import { FakeBox } from "../unit/console-fixtures.ts";

const actionsFile = process.argv[2];
if (!actionsFile) throw new Error("usage: console-tty-fixture.ts ACTIONS_FILE");
const box = new FakeBox();
const perform = box.perform.bind(box);
box.perform = async (actor, action) => {
  appendFileSync(actionsFile, `${JSON.stringify({ actor, action })}\n`);
  return perform(actor, action);
};
startTtyConsole({
  snapshot: box.snapshot,
  actions: box,
  actor: { who: "console:stdin", role: "admin" },
  log: pino({ level: "silent" }),
  allowQuit: true,
  onClose: () => process.exit(0),
});

// Runs a command on the terminal it was given and, when the command ends,
// writes how it ended to a file: the terminal may be gone by then. It
// handles SIGHUP itself (a handler, not SIG_IGN, which the command would
// inherit), so it outlives the hangup it witnesses.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const [resultFile, command, ...args] = process.argv.slice(2);
process.on("SIGHUP", () => {});
const child = spawn(command, args, { stdio: ["inherit", "inherit", "pipe"] });
let stderr = "";
child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
child.on("close", (code, signal) => writeFileSync(resultFile, JSON.stringify({ code, signal, stderr })));

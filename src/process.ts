/**
 * The process as nbatch sees it, read in this one place: its streams, its
 * environment (a copy: nothing nbatch does changes what a child inherits),
 * its working directory, its signals and the real clock.
 */
import { closeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isatty } from "node:tty";
import { realClock } from "./clock.js";
import type { CommandContext } from "./commands/context.js";
import { createOutput } from "./ui/output.js";

const BIN = fileURLToPath(new URL("../bin/nbatch.js", import.meta.url));

export function processContext(): CommandContext {
  const env = Object.freeze({ ...process.env });
  // A reader that stops early (`nbatch logs JOB | head`) closes the pipe. Its output is then
  // dropped quietly, as cat's would be, but the work goes on: a build still brings its results home.
  const dropOnClosedPipe = (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "EIO" && err.code !== "ERR_STREAM_DESTROYED") throw err;
  };
  process.stdout.on("error", dropOnClosedPipe);
  process.stderr.on("error", dropOnClosedPipe);
  process.once("exit", releaseHungUpTerminal([0, 1, 2].filter((fd) => isatty(fd))));
  return {
    out: createOutput({ stdout: process.stdout, stderr: process.stderr, stdinIsTTY: Boolean(process.stdin.isTTY), env }),
    env,
    cwd: process.cwd(),
    clock: realClock,
    signals: process,
    self: [process.execPath, BIN],
  };
}

/**
 * At exit Node restores the terminal modes of the descriptors that were
 * terminals when it started; on a terminal that has hung up (closed window,
 * dropped SSH) Node 20 aborts there (exit 134). Such descriptors are closed
 * first, which Node then skips: a detach on SIGHUP exits as it means to.
 */
function releaseHungUpTerminal(ttys: number[]): () => void {
  return () => {
    for (const fd of ttys) {
      if (isatty(fd)) continue;
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
  };
}

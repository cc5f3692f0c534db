import { closeSync } from "node:fs";
import { isatty } from "node:tty";
import type { Writable } from "node:stream";

export type Verbosity = "quiet" | "normal" | "verbose";

/**
 * All terminal output goes through one IO object: results on stdout,
 * progress and status on stderr. Colour and redrawn progress lines only on
 * a terminal, never with NO_COLOR; tests use createTestIO() from
 * test/support/io.ts.
 */
export interface IO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly color: boolean;
  verbosity(): Verbosity;
  setVerbosity(v: Verbosity): void;
  /** A result line, on stdout. */
  out(line: string): void;
  /** A status line, on stderr; silent with --quiet. */
  info(line: string): void;
  /** A detail shown only with --verbose. */
  detail(line: string): void;
  /** A warning, on stderr, whatever the verbosity. */
  warn(line: string): void;
  /** On a terminal: draws a line that the next progress() or line replaces. */
  progress(line: string): void;
}

export interface IOOptions {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdinIsTTY: boolean;
  noColor: boolean;
}

export function createIO(opts: IOOptions): IO {
  const stderrIsTTY = Boolean(opts.stderr.isTTY);
  const color = stderrIsTTY && !opts.noColor;
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  let verbosity: Verbosity = "normal";
  let drawn = false;
  // A progress line is redrawn in place; anything else first wipes it.
  const clear = () => {
    if (drawn) opts.stderr.write("\r\x1b[K");
    drawn = false;
  };
  const err = (line: string) => {
    clear();
    opts.stderr.write(line + "\n");
  };
  return {
    stdout: opts.stdout,
    stderr: opts.stderr,
    stdinIsTTY: opts.stdinIsTTY,
    stderrIsTTY,
    color,
    verbosity: () => verbosity,
    setVerbosity: (v) => void (verbosity = v),
    out: (line) => {
      if (opts.stdout === opts.stderr || opts.stdout.isTTY) clear();
      opts.stdout.write(line + "\n");
    },
    info: (line) => verbosity !== "quiet" && err(line),
    detail: (line) => verbosity === "verbose" && err(line),
    warn: (line) => err(paint("33", "warning: ") + line),
    progress: (line) => {
      if (!stderrIsTTY || verbosity === "quiet") return;
      opts.stderr.write(`\r\x1b[K${line}`);
      drawn = true;
    },
  };
}

const STDIO = [0, 1, 2];
const ttyDescriptors = () => STDIO.filter((fd) => isatty(fd));

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

/** The process's own IO; the only place that looks at process streams and NO_COLOR. */
export function processIO(): IO {
  // A reader that stops early (`nbatch logs JOB | head`) closes the pipe. Its output is then
  // dropped quietly, as cat's would be, but the work goes on: a build still brings its results home.
  const dropOnClosedPipe = (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "EIO" && err.code !== "ERR_STREAM_DESTROYED") throw err;
  };
  process.stdout.on("error", dropOnClosedPipe);
  process.stderr.on("error", dropOnClosedPipe);
  process.once("exit", releaseHungUpTerminal(ttyDescriptors()));
  return createIO({
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    noColor: Boolean(process.env.NO_COLOR),
  });
}

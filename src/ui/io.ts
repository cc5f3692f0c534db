import type { Writable } from "node:stream";

/**
 * All terminal output goes through one IO object: results on stdout,
 * progress and status on stderr. Colour only on a TTY and never with
 * NO_COLOR; tests use createTestIO() from test/support/io.ts.
 */
export interface IO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly color: boolean;
  /** A result line, on stdout. */
  out(line: string): void;
  /** A status or progress line, on stderr. */
  info(line: string): void;
  /** A warning, on stderr. */
  warn(line: string): void;
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
  return {
    stdout: opts.stdout,
    stderr: opts.stderr,
    stdinIsTTY: opts.stdinIsTTY,
    stderrIsTTY,
    color,
    out: (line) => void opts.stdout.write(line + "\n"),
    info: (line) => void opts.stderr.write(line + "\n"),
    warn: (line) => void opts.stderr.write(paint("33", "warning: ") + line + "\n"),
  };
}

/** The process's own IO; the only place that looks at process streams and NO_COLOR. */
export function processIO(): IO {
  return createIO({
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    noColor: Boolean(process.env.NO_COLOR),
  });
}

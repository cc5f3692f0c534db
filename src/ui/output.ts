import type { Writable } from "node:stream";
import { localIsoTime } from "./format.js";

export type Verbosity = "quiet" | "normal" | "verbose";

/** What a build tells scripts with --json, one event per line (docs/ci.md). */
export type BuildEvent =
  | { type: "run"; runId: string; dir: string; files: number; bytes: number; uploaded: boolean; uploadedFiles: number; uploadedBytes: number; reusedFiles: number; reusedBytes: number }
  | { type: "submitted"; runId: string; jobId: string; jobName: string; queue: string; inputsUrl: string; tasks?: number; jobIds?: string[] }
  | { type: "status"; jobId: string; status: string; attempt: number; attempts: number; reason?: string }
  | { type: "log"; jobId: string; attempt: number; timestamp: number; message: string; index?: number }
  | { type: "download"; path: string; action: string; index?: number }
  | { type: "task"; index: number; item?: string; jobId: string; status: string; reason?: string; exitCode?: number }
  | { type: "task-result"; index: number; item?: string; exitCode: number | null; written: number; identical: number; conflicts: number; refused: number; error?: string }
  | { type: "detached"; jobId: string; attach: string }
  | { type: "dry-run"; files: number; bytes: number; upload: boolean; uploadFiles: number; uploadBytes: number; reuseFiles: number; reuseBytes: number; excluded: { path: string; rule: string }[]; submitJob: unknown; tasks?: number };

/** What the closing exit event says about the job, once one is known. */
export interface JobOutcome {
  jobId?: string;
  status?: string;
  jobExitCode?: number;
  /** A fan-out run: how many tasks it had, and how many failed. */
  tasks?: number;
  failed?: number;
}

/**
 * Everything nbatch says goes through one Output: results on stdout,
 * status and progress on stderr, the job's log lines as if the command ran
 * here. With --json (json()), stdout carries only one JSON event per line,
 * text for people moves to stderr, and the run always ends with one `exit`
 * event: the Output owns the exit code. Colour and redrawn lines are decided
 * per stream. Tests use createTestOutput() from test/support/io.ts.
 */
export interface Output {
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Whether stdout takes colour (a report such as check-setup's). */
  readonly stdoutColor: boolean;
  /** The width of the terminal stdout is, if it is one: help is laid out to it. */
  readonly columns?: number;
  readonly json: boolean;
  /** From here on, JSON events on stdout (build --json); set before anything can fail. */
  useJson(): void;
  verbosity(): Verbosity;
  setVerbosity(v: Verbosity): void;
  /** A result line, on stdout (on stderr in --json mode, where stdout is events only). */
  out(line: string): void;
  /** A whole document for stdout as it is: help, a completion script, a template. */
  document(text: string): void;
  /** Where a command's own output passes through as it is, bytes and all (the agent's copy of the log). */
  raw(which: "stdout" | "stderr"): Writable;
  /** A status line, on stderr; silent with --quiet. */
  info(line: string): void;
  /** A detail shown only with --verbose. */
  detail(line: string): void;
  /** A warning, on stderr, whatever the verbosity. */
  warn(line: string): void;
  /** The one line of a failure, on stderr. */
  error(line: string): void;
  /** On a terminal: a line that the next progress() or line replaces. */
  progress(line: string): void;
  /** A JSON event with --json; without, a log event is printed as the job's output line. */
  emit(event: BuildEvent): void;
  /** The command's exit code, and what the exit event says of the job. */
  exitCode(code: number, job?: JobOutcome): void;
  /** The end of the run, once: the exit event with --json (with the error, if one ended it); returns the code. */
  finish(failure?: { code: number; error?: string }): number;
}

export interface OutputOptions {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  stdinIsTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** A job's log line as nbatch prints it: `[batch] [<local time>] <line>`, `[task 3] ...` for a fan-out task's. */
export function logLine(timestamp: number, message: string, index?: number): string {
  return `[${index === undefined ? "batch" : `task ${index}`}] [${localIsoTime(timestamp)}] ${message}`;
}

/**
 * Colour for a stream, as gh decides it: CLICOLOR_FORCE=1 forces it;
 * NO_COLOR (any value), CLICOLOR=0 and TERM=dumb turn it off; otherwise a
 * terminal gets it.
 */
function colorFor(stream: { isTTY?: boolean }, env: OutputOptions["env"]): boolean {
  if (env.CLICOLOR_FORCE && env.CLICOLOR_FORCE !== "0") return true;
  if (env.NO_COLOR || env.CLICOLOR === "0" || env.TERM === "dumb") return false;
  return Boolean(stream.isTTY);
}

export function createOutput(opts: OutputOptions): Output {
  const stderrIsTTY = Boolean(opts.stderr.isTTY);
  // A dumb terminal cannot move the cursor back: no redrawn lines there.
  const redraw = stderrIsTTY && opts.env.TERM !== "dumb";
  const errColor = colorFor(opts.stderr, opts.env);
  const paint = (code: string, s: string) => (errColor ? `\x1b[${code}m${s}\x1b[0m` : s);
  let verbosity: Verbosity = "normal";
  let json = false;
  let code = 0;
  let job: JobOutcome = {};
  let finished = false;
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
  const stdoutLine = (line: string) => {
    if (opts.stdout === opts.stderr || opts.stdout.isTTY) clear();
    opts.stdout.write(line + "\n");
  };
  const output: Output = {
    stdinIsTTY: opts.stdinIsTTY,
    stderrIsTTY,
    stdoutColor: colorFor(opts.stdout, opts.env),
    ...(opts.stdout.isTTY && opts.stdout.columns ? { columns: opts.stdout.columns } : {}),
    get json() {
      return json;
    },
    useJson: () => void (json = true),
    verbosity: () => verbosity,
    setVerbosity: (v) => void (verbosity = v),
    out: (line) => (json ? err(line) : stdoutLine(line)),
    document: (text) => void opts.stdout.write(text),
    raw: (which) => (which === "stdout" ? opts.stdout : opts.stderr),
    info: (line) => verbosity !== "quiet" && err(line),
    detail: (line) => verbosity === "verbose" && err(line),
    warn: (line) => err(paint("33", "warning: ") + line),
    error: (line) => err(line),
    progress: (line) => {
      if (!redraw || verbosity === "quiet") return;
      opts.stderr.write(`\r\x1b[K${line}`);
      drawn = true;
    },
    emit(event) {
      if (json) stdoutLine(JSON.stringify(event));
      if (event.type !== "log") return;
      const line = logLine(event.timestamp, event.message, event.index);
      if (json) err(line);
      else stdoutLine(line);
    },
    exitCode(c, outcome) {
      code = c;
      if (outcome) job = { ...job, ...outcome };
    },
    finish(failure) {
      if (failure) code = failure.code;
      if (json && !finished) {
        const { jobId, status, jobExitCode, tasks, failed } = job;
        stdoutLine(JSON.stringify({ type: "exit", code, jobId, status, jobExitCode, tasks, failed, ...(failure?.error !== undefined ? { error: failure.error } : {}) }));
      }
      finished = true;
      return code;
    },
  };
  return output;
}

import type { IO } from "./io.js";
import { localIsoTime } from "./format.js";

/** What a build tells its user, as events: text for people, or NDJSON for scripts (--json). */
export type BuildEvent =
  | { type: "run"; runId: string; dir: string; files: number; bytes: number; inputsUrl: string; uploaded: boolean }
  | { type: "submitted"; runId: string; jobId: string; jobName: string; queue: string }
  | { type: "status"; jobId: string; status: string; attempt: number; attempts: number; reason?: string }
  | { type: "log"; jobId: string; attempt: number; timestamp: number; message: string }
  | { type: "download"; path: string; action: string }
  | { type: "detached"; jobId: string; attach: string }
  | { type: "dry-run"; files: number; bytes: number; inputsUrl: string; upload: boolean; excluded: { path: string; rule: string }[]; submitJob: unknown }
  | { type: "exit"; code: number; jobId?: string; status?: string; jobExitCode?: number; error?: string };

export interface Reporter {
  readonly json: boolean;
  emit(event: BuildEvent): void;
  /** Status text for people: stderr in both modes. */
  info(line: string): void;
  warn(line: string): void;
  /** Details for --verbose. */
  detail(line: string): void;
  /** A line redrawn in place on a terminal (elapsed time, transfers). */
  progress(line: string): void;
  readonly io: IO;
}

/**
 * People get status on stderr and the job's log lines on stdout, as if the
 * command ran here. With --json, stdout carries only one JSON event per line
 * and everything for people, log lines included, goes to stderr.
 */
/** A job's log line as nbatch prints it: `[batch] [<local time>] <line>`. */
export function logLine(timestamp: number, message: string): string {
  return `[batch] [${localIsoTime(timestamp)}] ${message}`;
}

export function createReporter(io: IO, json: boolean): Reporter {
  return {
    json,
    emit(event) {
      if (json) io.out(JSON.stringify(event));
      if (event.type === "log") {
        const line = logLine(event.timestamp, event.message);
        if (json) io.info(line);
        else io.out(line);
      }
    },
    info: (line) => io.info(line),
    warn: (line) => io.warn(line),
    detail: (line) => io.detail(line),
    progress: (line) => io.progress(line),
    io,
  };
}

/**
 * The local run history: one JSON line per submitted job, so `nbatch ls`,
 * `status`, `logs`, `cancel` and `--attach` still know a run (its directory,
 * region and results) after Batch has forgotten the job.
 */
import { constants } from "node:fs";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { envValue, homeDir, type Env } from "./config/file.js";
import { replaceFile } from "./tree/temp-files.js";

export interface RunRecord {
  runId: string;
  jobId: string;
  jobName: string;
  /** The local directory the run came from, absolute. */
  dir: string;
  queue: string;
  region: string;
  /** The AWS profile it was submitted with, if any: another profile may be another account. */
  profile?: string;
  /** s3://bucket/prefix */
  bucket: string;
  resultsUrl: string;
  inputsUrl: string;
  /** Milliseconds since the epoch. */
  submittedAt: number;
  command: string[];
  /** A fan-out run: its lanes' job ids (jobId is the first), and how many tasks it has. */
  lanes?: string[];
  tasks?: number;
  /** A run of --rerun-failed: the run it reran. */
  rerunOf?: string;
  /** Where the agent keeps its copy of the log (runs/<run id>/log.gz). */
  logUrl?: string;
  /** The job's log group and its attempts' streams, once seen: `nbatch logs` needs them after Batch forgets the job. */
  logGroup?: string;
  logStreams?: (string | null)[];
}

/** A line added after a run's record, filling in what was learnt later; readers older than it skip it. */
interface RunUpdate {
  update: string;
  logGroup: string;
  logStreams: (string | null)[];
}

/** Past this many records the file is cut back to the newest KEEP. */
export const MAX_RECORDS = 2000;
export const KEEP_RECORDS = 1000;
/** Every record is longer than this (its keys alone are), so a smaller file cannot need trimming. */
const MIN_RECORD_BYTES = 128;

/** $XDG_STATE_HOME/nbatch/history.jsonl, else ~/.local/state/nbatch/history.jsonl. */
export function historyPath(env: Env): string {
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const xdg = envValue(env, "XDG_STATE_HOME");
  const base = xdg && isAbsolute(xdg) ? xdg : join(homeDir(env), ".local", "state");
  return join(base, "nbatch", "history.jsonl");
}

/**
 * Appends one record. The line goes out in a single write() on an O_APPEND
 * descriptor, so parallel builds never interleave their lines.
 */
export async function recordRun(env: Env, rec: RunRecord): Promise<void> {
  const path = historyPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const file = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
  let size: number;
  try {
    await file.write(JSON.stringify(rec) + "\n");
    size = (await file.stat()).size;
  } finally {
    await file.close();
  }
  if (size > MAX_RECORDS * MIN_RECORD_BYTES) await trim(path);
}

/**
 * Records a run's log group and streams once they are known and new to the
 * history: one more line, appended like a record, so the file is never
 * rewritten for it.
 */
export async function rememberLogs(env: Env, runId: string, logGroup: string, logStreams: readonly (string | undefined)[]): Promise<void> {
  if (!logStreams.length) return;
  const run = (await listRuns(env)).find((r) => r.runId === runId);
  const streams = logStreams.map((s) => s ?? null);
  if (!run || (run.logGroup === logGroup && JSON.stringify(run.logStreams) === JSON.stringify(streams))) return;
  const update: RunUpdate = { update: runId, logGroup, logStreams: streams };
  const file = await open(historyPath(env), constants.O_WRONLY | constants.O_APPEND, 0o600);
  try {
    await file.write(JSON.stringify(update) + "\n");
  } finally {
    await file.close();
  }
}

/** Recorded runs, newest first; lines that are not a whole record are skipped. */
export async function listRuns(env: Env, opts: { limit?: number } = {}): Promise<RunRecord[]> {
  const runs = newestFirst(await readRecords(historyPath(env)));
  return opts.limit === undefined ? runs : runs.slice(0, opts.limit);
}

/** The newest run with this job id or run id. */
export async function findRun(env: Env, jobIdOrRunId: string): Promise<RunRecord | undefined> {
  return (await listRuns(env)).find((r) => r.jobId === jobIdOrRunId || r.runId === jobIdOrRunId);
}

async function readRecords(path: string): Promise<RunRecord[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const updates = new Map<string, RunUpdate>();
  const records = text.split("\n").flatMap((line) => {
    const rec = parse(line);
    if (rec && "update" in rec) updates.set(rec.update, rec);
    return rec && !("update" in rec) ? [rec] : [];
  });
  return records.map((r) => {
    const u = updates.get(r.runId);
    return u ? { ...r, logGroup: u.logGroup, logStreams: u.logStreams } : r;
  });
}

/** By submission time; among equal times, the later line is the newer. */
function newestFirst(runs: RunRecord[]): RunRecord[] {
  return runs
    .map((run, line) => ({ run, line }))
    .sort((a, b) => b.run.submittedAt - a.run.submittedAt || b.line - a.line)
    .map((x) => x.run);
}

const STRING_FIELDS = ["runId", "jobId", "jobName", "dir", "queue", "region", "bucket", "resultsUrl", "inputsUrl"] as const;

/** A record or an update, or undefined for a blank, truncated or foreign line. */
function parse(line: string): RunRecord | RunUpdate | undefined {
  if (!line.trim()) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.update === "string" && typeof v.logGroup === "string" && Array.isArray(v.logStreams)) return value as RunUpdate;
  if (!STRING_FIELDS.every((f) => typeof v[f] === "string")) return undefined;
  if (typeof v.submittedAt !== "number" || !Array.isArray(v.command) || !v.command.every((c) => typeof c === "string")) return undefined;
  return value as RunRecord;
}

/**
 * Keeps the newest KEEP_RECORDS once there are more than MAX_RECORDS, through
 * a temporary file and a rename, so a reader never sees a half-written file.
 * A line appended by another build between the read and the rename is lost;
 * that takes two builds within milliseconds of each other once in a thousand
 * runs, and costs only that run's listing.
 */
async function trim(path: string): Promise<void> {
  const runs = await readRecords(path);
  if (runs.length <= MAX_RECORDS) return;
  const kept = newestFirst(runs).slice(0, KEEP_RECORDS).reverse();
  await replaceFile(path, (tmp) => writeFile(tmp, kept.map((r) => JSON.stringify(r) + "\n").join(""), { mode: 0o600 }));
}

import { METADATA_DIR } from "./archive/metadata.js";
import { UserError } from "./errors.js";
import { finiteNumber, is, listOf, objectOf, oneOf, text, wholeNumber, type Check } from "./schema.js";
import type { ManifestEntry } from "./tree/manifest.js";

/** The job protocol shared by the CLI and the agent (docs/protocol.md). Bump on any incompatible change. */
export const PROTOCOL_VERSION = 2;

/** Metadata entries inside nbatch's archives (archive/metadata.ts). */
export const INPUTS_MANIFEST_ENTRY = `${METADATA_DIR}/manifest.json`;
export const RESULTS_ENTRY = `${METADATA_DIR}/results.json`;

/** Environment variables the CLI sets on the job for the agent. */
export const JOB_ENV = {
  /** The protocol the job was submitted in; absent means 1. */
  protocol: "NBATCH_PROTOCOL",
  runId: "NBATCH_RUN_ID",
  inputsUrl: "NBATCH_INPUTS_URL",
  resultsUrl: "NBATCH_RESULTS_URL",
  envUrl: "NBATCH_ENV_URL",
  /** How many attempts the job may make, so only the last one deletes the env object at once. */
  attempts: "NBATCH_ATTEMPTS",
  /** "1": an attempt after the first starts from the run's latest results (--resume). */
  resume: "NBATCH_RESUME",
  /** Fan-out: the run's task list (tasks.json), and where in it this job's children start and step. */
  tasksUrl: "NBATCH_TASKS_URL",
  taskOffset: "NBATCH_TASK_OFFSET",
  taskStride: "NBATCH_TASK_STRIDE",
  /** Where the agent keeps a gzipped copy of the command's output (agent/log-copy.ts); none without it. */
  logUrl: "NBATCH_LOG_URL",
  /** For the command, not the agent: what the job was given (job/resources.ts). */
  cpus: "NBATCH_CPUS",
  memoryMiB: "NBATCH_MEMORY_MIB",
} as const;

/** What a fan-out task's command sees: its task index and, with --each, its item. */
export const TASK_ENV = { index: "NBATCH_INDEX", item: "NBATCH_ITEM" } as const;

/** Set by AWS Batch in each child of an array job: its index in the array. */
export const ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX";

/** In NBATCH_RESULTS_URL, stands for the task's index: each task has its own results. */
export const INDEX_TOKEN = "{index}";

/** One task of a fan-out run: its index in the run, and with --each the path it is for. */
export interface Task {
  index: number;
  item?: string;
}

const TASKS: Check = listOf(objectOf({ index: wholeNumber }, { item: text }));

/** tasks.json: the run's task list, in the order the children take it. */
export function parseTasks(raw: string, what: string): Task[] {
  return parseChecked<Task[]>(Buffer.from(raw), what, TASKS);
}

/**
 * The agent's options, on its command line rather than in the environment:
 * an agent too old to know one refuses it (and the job fails, saying so)
 * instead of running the command in the wrong place.
 */
export function agentOptions(o: { workdir?: string }): string[] {
  return o.workdir ? ["--workdir", o.workdir] : [];
}

/** Set by AWS Batch in every job: the 1-based number of the attempt. */
export const BATCH_ATTEMPT_ENV = "AWS_BATCH_JOB_ATTEMPT";

export interface InputsManifest {
  protocol: number;
  entries: ManifestEntry[];
}

export interface Results {
  protocol: number;
  runId: string;
  /** A fan-out task's index: its results are its own. */
  index?: number;
  /** The command's exit status; 128+n when a signal n ended it; null if it never ran. */
  exitCode: number | null;
  signal: string | null;
  /** Why the command did not run or finish normally, if it did not. */
  error?: string;
  /** Paths the job deleted; nbatch reports them but never deletes local files. */
  deleted: string[];
  /** The new and changed entries in the archive, with exact mode and mtime. */
  files: ManifestEntry[];
  /** Paths the agent could not take (unreadable, vanished, changed while packed, a name archives cannot carry), with why. */
  skipped?: { path: string; reason: string }[];
  /** Processes the command left running when it exited: what they write later is not in the archive. */
  leftRunning?: { pid: number; command: string }[];
  timings: { started: number; commandStarted?: number; commandFinished?: number; finished: number };
}

/** What the CLI and the agent take for a manifest entry: a job's archive must not hand extraction anything else. */
export const MANIFEST_ENTRY: Check = objectOf(
  {
    path: text,
    type: oneOf("file", "dir", "symlink"),
    size: is((v) => Number.isSafeInteger(v) && (v as number) >= 0, "a size"),
    mtimeMs: finiteNumber,
    mode: is((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0o7777, "a mode"),
  },
  { target: text },
);

const INPUTS_MANIFEST: Check = objectOf({ protocol: wholeNumber, entries: listOf(MANIFEST_ENTRY) });

/** The inputs archive's manifest entry, from a protocol this nbatch knows. */
export function parseInputsManifest(raw: Buffer, what: string): InputsManifest {
  return parseChecked<InputsManifest>(raw, what, INPUTS_MANIFEST);
}

/**
 * Which entries of a results archive to take: all but those results.json
 * lists as skipped (a file the agent cut short because it changed while
 * packed), whose cut-off bytes must never land over a local file.
 */
export function notSkipped(results: Pick<Results, "skipped">): (path: string) => boolean {
  const skipped = new Set((results.skipped ?? []).map((s) => s.path));
  return (path) => !skipped.has(path);
}

export function parseChecked<T>(raw: Buffer, what: string, check: Check): T {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw malformed(what, `it is not JSON (${(err as Error).message})`);
  }
  // A newer protocol may have reshaped it: say so before judging its shape.
  checkProtocolOf(value, what);
  const wrong = check(value, "");
  if (wrong) throw malformed(what, wrong);
  return value as T;
}

/** A newer protocol may have reshaped a value: said first, in its own words. */
export function checkProtocolOf(value: unknown, what: string): void {
  const version = (value as { protocol?: unknown } | null)?.protocol;
  if (typeof version === "number") checkProtocol(version, what);
}

export function malformed(what: string, why: string): UserError {
  return new UserError(`${what} is malformed (${why}): it was not written by a compatible version of nbatch`);
}

/** The job was submitted in a protocol this agent may not know: one line, before anything is fetched. */
export function checkJobProtocol(value: string | undefined): void {
  const version = value === undefined || value === "" ? 1 : Number(value);
  if (!Number.isSafeInteger(version) || version > PROTOCOL_VERSION) {
    throw new UserError(`this job was submitted in job protocol ${value}, and this agent knows protocols up to ${PROTOCOL_VERSION}: update the image's nbatch to the version of the nbatch that submitted it`);
  }
}

/** Archives from a newer nbatch may mean things this one does not know: say so rather than guess. */
export function checkProtocol(version: number | undefined, what: string): void {
  if ((version ?? 1) > PROTOCOL_VERSION) {
    throw new UserError(`${what} uses job protocol ${version}, newer than this nbatch's ${PROTOCOL_VERSION}: upgrade nbatch (here, or in the job image)`);
  }
}

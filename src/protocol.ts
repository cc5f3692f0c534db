import { METADATA_DIR } from "./archive/metadata.js";
import { UserError } from "./errors.js";
import type { ManifestEntry } from "./tree/manifest.js";

/** The job protocol shared by the CLI and the agent (docs/protocol.md). Bump on any incompatible change. */
export const PROTOCOL_VERSION = 1;

/** Metadata entries inside nbatch's archives (archive/metadata.ts). */
export const INPUTS_MANIFEST_ENTRY = `${METADATA_DIR}/manifest.json`;
export const RESULTS_ENTRY = `${METADATA_DIR}/results.json`;

/** Environment variables the CLI sets on the job for the agent. */
export const JOB_ENV = {
  runId: "NBATCH_RUN_ID",
  inputsUrl: "NBATCH_INPUTS_URL",
  resultsUrl: "NBATCH_RESULTS_URL",
  envUrl: "NBATCH_ENV_URL",
  /** How many attempts the job may make, so only the last one deletes the env object at once. */
  attempts: "NBATCH_ATTEMPTS",
  /** "1": an attempt after the first starts from the run's latest results (--resume). */
  resume: "NBATCH_RESUME",
} as const;

/** Set by AWS Batch in every job: the 1-based number of the attempt. */
export const BATCH_ATTEMPT_ENV = "AWS_BATCH_JOB_ATTEMPT";

export interface InputsManifest {
  protocol: number;
  entries: ManifestEntry[];
}

export interface Results {
  protocol: number;
  runId: string;
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

/** The inputs archive's manifest entry, from a protocol this nbatch knows. */
export function parseInputsManifest(raw: Buffer, what: string): InputsManifest {
  const manifest = JSON.parse(raw.toString("utf8")) as InputsManifest;
  checkProtocol(manifest.protocol, what);
  return manifest;
}

/** Archives from a newer nbatch may mean things this one does not know: say so rather than guess. */
export function checkProtocol(version: number | undefined, what: string): void {
  if ((version ?? 1) > PROTOCOL_VERSION) {
    throw new UserError(`${what} uses job protocol ${version}, newer than this nbatch's ${PROTOCOL_VERSION}: upgrade nbatch (here, or in the job image)`);
  }
}

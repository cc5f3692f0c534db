/**
 * The one table of settings. The resolver, `nbatch config list
 * --show-origin` and shell completion all read it, so a setting's name,
 * flag, environment variables and default are written down exactly once.
 */
import type { BucketLocation, Runner, Sse } from "./settings.js";
import {
  InvalidValueError,
  parseBucket,
  parseCommand,
  parseCpus,
  parseMemoryMiB,
  parsePollIntervalMs,
} from "./units.js";

export interface SettingRow<T = unknown> {
  /** "section.key", e.g. "aws-batch.queue". */
  readonly name: string;
  readonly section: string;
  readonly key: string;
  /** Undefined when no flag sets it directly. */
  readonly flag?: string;
  /** The first is the documented name; later ones are accepted aliases. */
  readonly env: readonly string[];
  readonly description: string;
  /** Parsed like any other value; undefined when there is no default. */
  readonly default?: string;
  /** What to show as the default when there is none. */
  readonly defaultNote?: string;
  readonly parse: (text: string) => T;
}

type RowSpec<T> = Omit<SettingRow<T>, "name" | "section" | "key" | "env"> & { env?: string[] };

/** A setting with a default always has a value; one without may be unset. */
function row<T>(name: string, spec: RowSpec<T> & { default: string }): SettingRow<T> & { default: string };
function row<T>(name: string, spec: RowSpec<T>): SettingRow<T>;
function row<T>(name: string, spec: RowSpec<T>): SettingRow<T> {
  const dot = name.indexOf(".");
  const canonicalEnv = `NBATCH_${name.replace(/[.-]/g, "_").toUpperCase()}`;
  return { ...spec, name, section: name.slice(0, dot), key: name.slice(dot + 1), env: [canonicalEnv, ...(spec.env ?? [])] };
}

function parseRunner(text: string): Runner {
  const value = text.trim();
  if (value === "aws-batch" || value === "local") return value;
  throw new InvalidValueError("runner", text, "use aws-batch or local");
}

function parseAccountId(text: string): string {
  const value = text.trim();
  if (!/^\d{12}$/.test(value)) throw new InvalidValueError("bucket owner", text, "use the 12-digit AWS account id, e.g. 123456789012");
  return value;
}

function parseSse(text: string): Sse {
  const value = text.trim();
  if (value === "AES256" || value === "aws:kms" || value === "aws:kms:dsse" || value === "none") return value;
  throw new InvalidValueError("server-side encryption", text, "use AES256 (SSE-S3), aws:kms, or none for stores that refuse the header");
}

/** Batch's share identifiers: up to 255 letters and digits (AWS Batch API reference, SubmitJob shareIdentifier). */
function parseShare(text: string): string {
  const value = text.trim();
  if (!/^[A-Za-z0-9]{1,255}$/.test(value)) throw new InvalidValueError("share", text, "use up to 255 letters and digits, such as genomics");
  return value;
}

/** Job definitions and queues are names or ARNs, never blank or spaced. */
function nameParser(what: string, example: string): (text: string) => string {
  return (text) => {
    const value = text.trim();
    if (value === "" || /\s/.test(value)) throw new InvalidValueError(what, text, `use a name or ARN such as ${example}`);
    return value;
  };
}

export const SETTINGS = {
  runner: row<Runner>("core.runner", {
    description: "where `nbatch build` runs by default: aws-batch or local (--aws-batch / --local choose per run)",
    default: "local",
    parse: parseRunner,
  }),
  job: row<string>("aws-batch.job", {
    flag: "--aws-batch-job",
    description: "AWS Batch job definition (name, name:revision or ARN)",
    default: "nbatch-job",
    parse: nameParser("job definition", "nbatch-job"),
  }),
  queue: row<string>("aws-batch.queue", {
    flag: "--aws-batch-queue",
    description: "AWS Batch job queue (name or ARN)",
    default: "nbatch-job-queue",
    parse: nameParser("job queue", "nbatch-job-queue"),
  }),
  s3Bucket: row<BucketLocation>("aws-batch.s3-bucket", {
    flag: "--aws-batch-s3-bucket",
    description: "S3 bucket and optional key prefix for inputs and results, e.g. s3://my-lab-nbatch/jobs",
    defaultNote: "none: required, never guessed",
    parse: parseBucket,
  }),
  cpus: row<number>("aws-batch.cpus", {
    flag: "--aws-batch-cpus",
    description: "vCPUs for the job",
    defaultNote: "the job definition's",
    parse: parseCpus,
  }),
  memoryMiB: row<number>("aws-batch.memory", {
    flag: "--aws-batch-memory",
    description: "memory for the job, e.g. 15GiB, 7200MB or 4096 (MiB)",
    defaultNote: "the job definition's",
    parse: parseMemoryMiB,
  }),
  agentCommand: row<string[]>("aws-batch.agent-command", {
    flag: "--agent-command",
    description: "command that starts the agent inside the job image (shell words or a JSON array)",
    default: "nbatch agent",
    parse: (text) => parseCommand(text, "agent command"),
  }),
  s3BucketOwner: row<string>("aws-batch.s3-bucket-owner", {
    flag: "--aws-batch-s3-bucket-owner",
    description: "AWS account id that must own the bucket; sent as ExpectedBucketOwner on every S3 call",
    defaultNote: "not checked",
    parse: parseAccountId,
  }),
  sse: row<Sse>("aws-batch.sse", {
    flag: "--sse",
    description: "server-side encryption of uploads: AES256 (SSE-S3), aws:kms, or none (S3-compatible stores that refuse the header)",
    default: "AES256",
    parse: parseSse,
  }),
  sseKmsKeyId: row<string>("aws-batch.sse-kms-key-id", {
    flag: "--sse-kms-key-id",
    description: "KMS key (id, alias or ARN) for --sse aws:kms",
    defaultNote: "the account's aws/s3 key",
    parse: nameParser("KMS key", "alias/nbatch"),
  }),
  maxResultsBytes: row<number>("core.max-results-size", {
    flag: "--max-results-size",
    description: "largest results archive (unpacked) nbatch will apply, e.g. 200GiB",
    default: "100GiB",
    parse: (text) => parseMemoryMiB(text) * 1024 * 1024,
  }),
  share: row<string>("aws-batch.share", {
    flag: "--share",
    description: "the fair-share identifier jobs are submitted with, on a queue with a scheduling policy",
    defaultNote: "your user name, letters and digits only",
    parse: parseShare,
  }),
  pollIntervalMs: row<number>("aws-batch.poll-interval", {
    env: ["NBATCH_POLL_INTERVAL"],
    description: "seconds between job status checks (at least 0.1)",
    default: "5",
    parse: parsePollIntervalMs,
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;

/** Every setting's resolved value, typed from its row: adding a setting is adding a row. */
export type SettingValues = {
  [K in SettingKey]: (typeof SETTINGS)[K] extends SettingRow<infer T> & { default: string } ? T : (typeof SETTINGS)[K] extends SettingRow<infer T> ? T | undefined : never;
};

export const SETTING_ROWS: readonly SettingRow[] = Object.values(SETTINGS);

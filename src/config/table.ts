/**
 * The one table of settings. The resolver, `nbatch config list
 * --show-origin` and shell completion all read it, so a setting's name,
 * flag, environment variables and default are written down exactly once.
 */
import { posix } from "node:path";
import type { BucketLocation, Runner, Sse } from "./settings.js";
import {
  InvalidValueError,
  parseBucket,
  parseCommand,
  parseCount,
  parseCpus,
  parseMemoryMiB,
  parsePollIntervalMs,
  parseWords,
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
  /** The only values it takes, offered by completion (its parser is what refuses others). */
  readonly choices?: readonly string[];
  /** A list, from shell words or a JSON array; its flag is repeatable. */
  readonly list?: boolean;
  /**
   * Whether a project's nbatch.ini may set it. A project file comes with a
   * repository anyone may have written: it may say what the work needs, never
   * where data goes, what guards it, what the job may do in the account or
   * what starts it (docs/configuration.md, "The project file").
   */
  readonly project?: boolean;
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

/** A subdirectory of the uploaded directory, relative to it with no way out of it; "." for the directory itself. */
function parseWorkdir(text: string): string {
  const value = posix.normalize(text.trim()).replace(/\/+$/, "");
  if (value === "" || value === ".") return ".";
  if (posix.isAbsolute(value) || value.includes("\\") || value === ".." || value.startsWith("../")) {
    throw new InvalidValueError("working directory", text, "use a subdirectory of the uploaded directory, relative to it, such as pathogen/ or workflows/flu");
  }
  return value;
}

/** A list of patterns: shell words (quotes for spaces) or a JSON array. */
const patterns = (what: string) => (text: string) => parseWords(text, what);

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
    choices: ["aws-batch", "local"],
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
    project: true,
  }),
  memoryMiB: row<number>("aws-batch.memory", {
    flag: "--aws-batch-memory",
    description: "memory for the job, e.g. 15GiB, 7200MB or 4096 (MiB)",
    defaultNote: "the job definition's",
    parse: parseMemoryMiB,
    project: true,
  }),
  image: row<string>("aws-batch.image", {
    flag: "--image",
    description: "container image to run instead of the job definition's (nbatch registers a job definition like it)",
    defaultNote: "the job definition's",
    parse: nameParser("image", "ghcr.io/my-lab/pipeline:2.1"),
    project: true,
  }),
  command: row<string[]>("build.command", {
    description: "the command nbatch build runs when none is given after -- (shell words or a JSON array)",
    defaultNote: "none: on AWS Batch, the job definition's",
    parse: (text) => parseCommand(text, "command", "snakemake --cores all"),
    project: true,
  }),
  workdir: row<string>("build.workdir", {
    flag: "--workdir",
    description: "run the command in this subdirectory of <dir>; results still come back relative to <dir>",
    defaultNote: "<dir> itself",
    parse: parseWorkdir,
    project: true,
  }),
  excludeFromUpload: row<string[]>("build.exclude-from-upload", {
    description: "gitignore-style patterns of paths never to upload, added to .nbatchignore's and --exclude-from-upload's",
    defaultNote: "none beyond the built-in exclusions",
    parse: patterns("upload exclusions"),
    list: true,
    project: true,
  }),
  download: row<string[]>("build.download", {
    flag: "--download",
    description: "only download results matching these globs (** {a,b} and ! negation)",
    defaultNote: "everything the job created or changed",
    parse: patterns("download patterns"),
    list: true,
    project: true,
  }),
  excludeFromDownload: row<string[]>("build.exclude-from-download", {
    flag: "--exclude-from-download",
    description: "do not download results matching these globs",
    defaultNote: "none",
    parse: patterns("download exclusions"),
    list: true,
    project: true,
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
    choices: ["AES256", "aws:kms", "aws:kms:dsse", "none"],
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
  maxResultsEntries: row<number>("core.max-results-entries", {
    flag: "--max-results-entries",
    description: "most entries (files, links, directories) a results archive may hold for nbatch to apply it; each costs about a kilobyte of memory",
    default: "100000",
    parse: (text) => parseCount(text, "entry count"),
  }),
  pollIntervalMs: row<number>("aws-batch.poll-interval", {
    env: ["NBATCH_POLL_INTERVAL"],
    description: "seconds between job status checks (0.1 to 3600)",
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

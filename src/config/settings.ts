/**
 * The typed settings object. Resolved once at start (resolve.ts) from
 * flag > NBATCH_* environment variable > ini file > default; nothing else
 * reads process.env or the config file.
 */

export type Runner = "aws-batch" | "local";

/** Where a value came from, for `nbatch config list --show-origin` and error messages. */
export type Origin = "flag" | "env" | "file" | "default";

export interface BucketLocation {
  bucket: string;
  /** Key prefix without leading or trailing slash; "" for the bucket root. */
  prefix: string;
}

export type Sse = "AES256" | "aws:kms" | "aws:kms:dsse";

/** Applied to every S3 call by the client factory, in the CLI and in the agent alike. */
export interface S3Policy {
  /** Sent as ExpectedBucketOwner: a bucket of another account fails instead of receiving data. */
  expectedBucketOwner?: string;
  sse: Sse;
  sseKmsKeyId?: string;
}

export interface AwsSettings {
  region: string;
  /** Where the region came from ("--aws-region", "AWS_REGION", "profile lab"); absent for the built-in default. */
  regionFrom?: string;
  profile?: string;
  /** Endpoint overrides from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>. */
  /** Undefined only for clients made outside a resolved configuration (tests). */
  s3?: S3Policy;
  endpoints: { s3?: string; batch?: string; logs?: string; sts?: string };
}

export interface AwsBatchSettings {
  job: string;
  queue: string;
  /** Undefined when not configured: there is no default bucket. */
  s3Bucket?: BucketLocation;
  cpus?: number;
  memoryMiB?: number;
  /** The command that starts the agent inside the job. Default ["nbatch", "agent"]. */
  agentCommand: string[];
  /** DescribeJobs interval; the log tail adapts between a fifth of it and twice it. */
  pollIntervalMs: number;
}

export interface Settings {
  runner: Runner;
  aws: AwsSettings;
  awsBatch: AwsBatchSettings;
  /** The config file that was (or would be) read. */
  configFile: string;
  /** The same, as people write it (~/.config/nbatch/config). */
  configFileShown: string;
  debug: boolean;
  /** Results archives claiming or expanding to more than this are refused. */
  maxResultsBytes: number;
  /** Origin of each resolved setting, keyed by its ini name ("aws-batch.queue"). */
  origins: Record<string, Origin>;
}

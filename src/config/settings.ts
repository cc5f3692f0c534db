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

export interface AwsSettings {
  region: string;
  profile?: string;
  /** Endpoint overrides from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>. */
  endpoints: { s3?: string; batch?: string; logs?: string };
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
  debug: boolean;
  /** Origin of each resolved setting, keyed by its ini name ("aws-batch.queue"). */
  origins: Record<string, Origin>;
}

/**
 * The typed settings object. Resolved once at start (resolve.ts) from
 * flag > NBATCH_* environment variable > project file > config file >
 * default; nothing else
 * reads process.env or the config file. Each setting of the table
 * (table.ts) is a field of `values`, typed by its row.
 */
import type { SettingValues } from "./table.js";

export type Runner = "aws-batch" | "local";

/** Where a value came from, for `nbatch config list --show-origin` and error messages. */
export type Origin = "flag" | "env" | "project" | "file" | "default";

export interface BucketLocation {
  bucket: string;
  /** Key prefix without leading or trailing slash; "" for the bucket root. */
  prefix: string;
}

export type Sse = "AES256" | "aws:kms" | "aws:kms:dsse" | "none";

/** Applied to every S3 call by the client factory, in the CLI and in the agent alike. */
export interface S3Policy {
  /** Sent as ExpectedBucketOwner: a bucket of another account fails instead of receiving data. */
  expectedBucketOwner?: string;
  sse: Sse;
  sseKmsKeyId?: string;
}

export type Service = "s3" | "batch" | "logs" | "sts";

/** Which credentials the clients use, and why (config/aws.ts). */
export interface Credentials {
  source: "profile" | "env" | "chain";
  profile?: string;
  from: string;
}

export interface Proxies {
  https?: string;
  http?: string;
  /** Hosts or domain suffixes reached directly; "*" for all. */
  noProxy: string[];
}

export interface AwsSettings {
  region: string;
  /** Where the region came from ("--aws-region", "AWS_REGION", "profile lab"); absent for the built-in default. */
  regionFrom?: string;
  profile?: string;
  /** Undefined only for clients made outside a resolved configuration (tests). */
  s3?: S3Policy;
  /** Endpoint overrides, and where each came from (environment, or the profile). */
  endpoints: Partial<Record<Service, string>>;
  endpointsFrom?: Partial<Record<Service, string>>;
  credentials?: Credentials;
  /** S3 addressed by path (bucket in the path, not the host name). */
  s3PathStyle?: boolean;
  retries?: { maxAttempts: number; mode: "standard" | "adaptive" };
  /** The certificates to trust instead of the system's: a PEM file. */
  caBundle?: { path: string; from: string };
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  proxies?: Proxies;
}

export interface Settings {
  values: SettingValues;
  aws: AwsSettings;
  /** The config file that was (or would be) read. */
  configFile: string;
  /** The same, as people write it (~/.config/nbatch/config). */
  configFileShown: string;
  /** The project file that was read (dir/nbatch.ini), as people write it; absent when there is none. */
  projectFileShown?: string;
  debug: boolean;
  /** Origin of each resolved setting, keyed by its ini name ("aws-batch.queue"). */
  origins: Record<string, Origin>;
}

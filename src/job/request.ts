import type { RunResources } from "./platform.js";
import type { RetryOn } from "./retries.js";
import type { FanoutSpec } from "./fanout/tasks.js";
import type { SourcedPattern } from "../tree/patterns.js";

/** What `nbatch build` asks a runner to do, whatever the runner. */
export interface BuildRequest {
  /** Absolute path of the directory to run in. */
  dir: string;
  /** The command (after --, else the project's); empty means the job definition's own (aws-batch only). */
  command: string[];
  /** The subdirectory of dir the command runs in, relative to dir; undefined for dir itself. */
  workdir?: string;
  /** --env values, resolved: never shown in the job description. */
  env: Record<string, string>;
  image?: string;
  /** --secret NAME=ARN: Batch injects the value from Secrets Manager or SSM. */
  secrets: { name: string; valueFrom: string }[];
  /** Added to the built-in exclusions, in order: the project's, then --exclude-from-upload's. */
  excludeFromUpload: (string | SourcedPattern)[];
  download: string[];
  excludeFromDownload: string[];
  /** AWS Batch only: retries after the first attempt, and which failures they are for; attempt time limit; extra tags. */
  retries?: number;
  retryOn?: RetryOn;
  timeoutSeconds?: number;
  /** A fair-share queue's scheduling priority for the job (--priority). */
  priority?: number;
  /** --gpus, --disk, --arch, --shm-size. */
  resources: RunResources;
  /** Retried attempts start from the run's latest results (--resume). */
  resume: boolean;
  tags: Record<string, string>;
  dryRun: boolean;
  follow: FollowPrefs;
  /** --array or --each: many tasks over the one upload. */
  fanout?: FanoutSpec;
}

/** How to follow a submitted or attached job. */
export interface FollowPrefs {
  /** Return as soon as the job is submitted. */
  detach: boolean;
  detachOnInterrupt: boolean;
  logs: boolean;
  download: boolean;
  /** Extra flags the re-attach command needs (e.g. --aws-region), already shell-quoted. */
  attachFlags: string[];
}

import { UsageError } from "../../errors.js";
import type { Runner } from "../../config/settings.js";
import type { AwsFlags } from "../aws-options.js";

/**
 * The flags of `nbatch build`, as commander hands them over. The setting
 * flags (--aws-batch-queue, --sse, ...) come from the settings table and go
 * straight to the resolver (aws-options.ts).
 */
export interface BuildFlags extends AwsFlags {
  awsBatch?: boolean;
  local?: boolean;
  image?: string;
  secret: string[];
  env: string[];
  envdir: string[];
  excludeFromUpload: string[];
  workdir?: string;
  /** The --download patterns, or false with --no-download. */
  download: string[] | false;
  excludeFromDownload: string[];
  logs: boolean;
  detach?: boolean;
  attach?: string;
  cancel?: boolean;
  detachOnInterrupt?: boolean;
  retries?: string;
  retryOn: string[];
  resume?: boolean;
  priority?: string;
  gpus?: string;
  disk?: string;
  arch?: string;
  shmSize?: string;
  timeout?: string;
  tag: string[];
  dryRun?: boolean;
  json?: boolean;
  array?: string;
  each: string[];
  arrayParallel?: string;
  followChild: string[];
  rerunFailed?: string;
}

/** Combinations that make no sense fail before anything happens, with exit 2. */
export function checkFlags(f: BuildFlags, dir: string | undefined, command: string[], runner: Runner): void {
  const fail = (message: string) => {
    throw new UsageError(message);
  };
  if (f.awsBatch && f.local) fail("--aws-batch and --local conflict: choose one");
  if (f.array && f.each.length) fail("--array and --each conflict: --array N makes N tasks, --each one per matching path");
  const fanout = Boolean(f.array || f.each.length || f.rerunFailed || f.attach);
  if (!fanout && f.arrayParallel) fail("--array-parallel goes with --array, --each or --rerun-failed");
  if (f.attach && f.arrayParallel) fail("--array-parallel applies when submitting, not with --attach");
  if (!fanout && f.followChild.length) fail("--follow-child goes with --array, --each or --rerun-failed");
  if (f.rerunFailed) {
    if (f.attach) fail("--rerun-failed and --attach conflict: choose one");
    if (f.local) fail("--rerun-failed reruns an AWS Batch run: it cannot be used with --local");
    if (command.length) fail("--rerun-failed takes no command: the tasks run the command they ran");
    if (f.array || f.each.length) fail("--rerun-failed reruns the tasks of an earlier run: it takes neither --array nor --each");
    const fixed = { image: f.image, secret: f.secret.length, "exclude-from-upload": f.excludeFromUpload.length, gpus: f.gpus, disk: f.disk, arch: f.arch, "shm-size": f.shmSize, "dry-run": f.dryRun };
    for (const [name, value] of Object.entries(fixed)) if (value) fail(`--${name} was fixed when the run was submitted: --rerun-failed runs its tasks as they ran`);
    return;
  }
  if (f.attach) {
    if (f.local) fail("--attach follows an AWS Batch job: it cannot be used with --local");
    if (f.array || f.each.length) fail("--attach follows a job submitted earlier: its tasks were set then, so it takes neither --array nor --each");
    if (command.length) fail("--attach takes a directory but no command: the job's command was set when it was submitted");
    const submitOnly = { env: f.env.length, envdir: f.envdir.length, secret: f.secret.length, image: f.image, "exclude-from-upload": f.excludeFromUpload.length, workdir: f.workdir, retries: f.retries, "retry-on": f.retryOn.length, resume: f.resume, priority: f.priority, gpus: f.gpus, disk: f.disk, arch: f.arch, "shm-size": f.shmSize, timeout: f.timeout, tag: f.tag.length, "dry-run": f.dryRun, detach: f.detach };
    for (const [name, value] of Object.entries(submitOnly)) if (value) fail(`--${name} applies when submitting a job, not with --attach`);
    return;
  }
  if (f.cancel) fail("--cancel goes with --attach <job-id>; to stop a job by id, use nbatch cancel <job-id>");
  if (dir === undefined) fail("missing the directory: nbatch build [options] <dir> [-- command ...]");
  if (runner === "local") {
    const batchOnly = { image: f.image, secret: f.secret.length, detach: f.detach, "detach-on-interrupt": f.detachOnInterrupt, retries: f.retries, "retry-on": f.retryOn.length, resume: f.resume, priority: f.priority, gpus: f.gpus, disk: f.disk, arch: f.arch, "shm-size": f.shmSize, timeout: f.timeout, tag: f.tag.length, json: f.json };
    for (const [name, value] of Object.entries(batchOnly)) if (value) fail(`--${name} needs --aws-batch: the local runner runs on this machine`);
  }
  if (f.detach && f.download !== false && f.download.length + f.excludeFromDownload.length > 0) {
    fail("--download and --exclude-from-download choose what the build brings back; with --detach, give them to --attach");
  }
}

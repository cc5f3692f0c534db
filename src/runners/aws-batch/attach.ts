import { stat } from "node:fs/promises";
import { DescribeJobsCommand, type JobDetail } from "@aws-sdk/client-batch";
import { getBytes, objectExists, parseS3Url, s3Url, type S3Object } from "../../aws/s3.js";
import { readRemoteEntry } from "../../job/fetch.js";
import type { BatchContext } from "../../job/context.js";
import { displayPath } from "../../config/file.js";
import { UsageError, UserError } from "../../errors.js";
import { followFanout, type FanoutTarget } from "../../job/fanout/follow.js";
import { isFanout, lookupFanout } from "../../job/fanout/lookup.js";
import { checkFollowed } from "../../job/fanout/tasks.js";
import { findRun } from "../../history.js";
import { INPUTS_MANIFEST_ENTRY, JOB_ENV, parseInputsManifest } from "../../protocol.js";
import { decodeTree } from "../../protocol-tree.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { createSelector } from "../../tree/patterns.js";
import { exitWithRefusals } from "../../job/apply.js";
import type { FollowPrefs } from "../../job/request.js";
import { isDone } from "../../job/batch.js";
import { bringResultsHome, followJob, type FollowTarget } from "./follow.js";

export interface AttachRequest {
  jobId: string;
  /** Where results go; may be left out with --no-download or --cancel. */
  dir?: string;
  cancel: boolean;
  download: string[];
  excludeFromDownload: string[];
  follow: FollowPrefs;
  /** A fan-out run's tasks whose log is shown live (--follow-child). */
  followChild: number[];
}

/** Where a run's objects are, from the job's own environment, else from the local history. */
interface RunUrls {
  runId: string;
  results: S3Object;
  inputs: S3Object;
  env?: S3Object;
}

/**
 * `nbatch build --attach <job-id> [dir]`: the status, the whole log so far,
 * the live tail, then the results. A job Batch has forgotten can still have
 * its results brought home, through the local run history.
 */
export async function runAttach(req: AttachRequest, deps: BatchContext): Promise<number> {
  const region = deps.settings.aws.region;
  const describe = async (jobId: string) => (await deps.clients.batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
  if (/:\d+$/.test(req.jobId)) throw new UsageError(`${req.jobId} is one task of a run: attach to the run (${req.jobId.replace(/:\d+$/, "")}), whose tasks' results all come home`);
  let job = await describe(req.jobId);
  if (job && isFanout(job)) return attachFanout(req, deps, (await findRun(deps.env, req.jobId))?.lanes ?? [job.jobId!]);
  const record = job ? undefined : await findRun(deps.env, req.jobId);
  if (!job && !record) {
    throw new UserError(`job ${req.jobId} not found in ${region}, nor in this machine's run history: check the id (nbatch ls) and the region`);
  }
  if (record && record.region !== region) {
    throw new UserError(`job ${record.jobId} ran in ${record.region}: add --aws-region ${record.region}`);
  }
  if (record?.profile && record.profile !== deps.settings.aws.profile) {
    throw new UserError(`job ${record.jobId} was submitted with the AWS profile ${record.profile}: add --aws-profile ${record.profile}`);
  }
  if (record?.lanes) return attachFanout(req, deps, record.lanes);
  // The history also knows runs by their run id.
  if (!job && record!.jobId !== req.jobId) job = await describe(record!.jobId);
  const jobId = job?.jobId ?? record!.jobId;
  const urls = job ? urlsFromJob(job) : { runId: record!.runId, results: parseS3Url(record!.resultsUrl), inputs: parseS3Url(record!.inputsUrl) };
  const dir = !req.follow.download || (req.cancel && !req.dir) ? undefined : (req.dir ?? (await recordedDir(deps, jobId)));
  const target: FollowTarget = {
    jobId,
    runId: urls.runId,
    results: urls.results,
    env: urls.env,
    dir,
    baseline: dir ? await baseline(deps, urls.inputs) : [],
    select: createSelector(req.download, req.excludeFromDownload),
  };
  const ended = !job || isDone(job.status!);
  if (req.cancel && ended) deps.out.warn(`nothing to cancel: job ${jobId} has already ended`);
  if (job) return followJob(target, req.follow, deps, req.cancel && !ended);
  deps.out.exitCode(0, { jobId });
  deps.out.info(`Batch no longer knows job ${jobId}; using the results it left at ${s3Url(urls.results)}`);
  return dir ? resultsOfForgottenJob(deps, target, dir, req.follow) : 0;
}

/** With no directory given, the one the job was submitted from, which the run history knows. */
async function recordedDir(deps: BatchContext, jobId: string): Promise<string> {
  const run = await findRun(deps.env, jobId);
  const retry = `nbatch build --attach ${jobId} DIR`;
  if (!run) throw new UsageError(`no directory given, and this machine's run history does not know job ${jobId}: give the directory to download into (${retry}), or --no-download`);
  const shown = displayPath(run.dir, deps.env);
  const info = await stat(run.dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UserError(`job ${jobId} was submitted from ${shown}, which is no longer a directory: give the directory to download into (${retry})`);
  deps.out.info(`Downloading into ${shown}, the directory job ${jobId} was submitted from (run history)`);
  return run.dir;
}

function urlsFromJob(job: JobDetail): RunUrls {
  const env = new Map((job.container?.environment ?? []).map((e) => [e.name, e.value]));
  const runId = env.get(JOB_ENV.runId);
  const results = env.get(JOB_ENV.resultsUrl);
  const inputs = env.get(JOB_ENV.inputsUrl);
  if (!runId || !results || !inputs) throw new UserError(`job ${job.jobId} was not submitted by nbatch build: there is nothing to attach to`);
  const envUrl = env.get(JOB_ENV.envUrl);
  return { runId, results: parseS3Url(results), inputs: parseS3Url(inputs), env: envUrl ? parseS3Url(envUrl) : undefined };
}

/** A fan-out run: every task's results, as they end; the tasks asked for followed live. */
async function attachFanout(req: AttachRequest, deps: BatchContext, laneIds: string[]): Promise<number> {
  const run = await lookupFanout(deps.clients.batch, deps.clients.s3, laneIds);
  checkFollowed(req.followChild, run.tasks);
  const dir = req.follow.download ? req.dir : undefined;
  const target: FanoutTarget = {
    runId: run.runId,
    lanes: run.lanes,
    tasks: run.tasks,
    env: run.env,
    follow: req.followChild,
    results: dir ? { runId: run.runId, dir, baseline: await baseline(deps, run.inputs), select: createSelector(req.download, req.excludeFromDownload), resultsOf: run.resultsOf } : undefined,
  };
  const ended = run.parents.every((p) => isDone(p.status!));
  if (req.cancel && ended) deps.out.warn(`nothing to cancel: the tasks of run ${run.runId} have all ended`);
  return followFanout(target, req.follow, deps, req.cancel && !ended);
}

/** The directory as it was uploaded: the tree's entries, or the manifest inside a protocol 1 inputs archive. */
export async function baseline(deps: BatchContext, inputs: S3Object): Promise<ManifestEntry[]> {
  const what = `the inputs ${s3Url(inputs)}`;
  const archive = inputs.key.endsWith(".zip");
  const raw = archive ? await readRemoteEntry(deps.clients.s3, inputs, INPUTS_MANIFEST_ENTRY) : await getBytes(deps.clients.s3, inputs);
  if (!raw) {
    deps.out.warn(`${what} are gone: local files that differ from the results will be kept, with the job's version beside them`);
    return [];
  }
  return archive ? parseInputsManifest(raw, what).entries : decodeTree(raw, what).entries;
}

async function resultsOfForgottenJob(deps: BatchContext, target: FollowTarget, dir: string, prefs: FollowPrefs): Promise<number> {
  const gone = () => new UserError(`job ${target.jobId} left no results at ${s3Url(target.results)}, or they have expired`);
  // Asked first: the warning for a live job that left no results would mislead here.
  if (!(await objectExists(deps.clients.s3, target.results))) throw gone();
  const applied = await bringResultsHome(deps, target, dir, prefs);
  if (!applied) throw gone();
  deps.out.exitCode(0, { jobId: target.jobId });
  return exitWithRefusals(applied.results.exitCode ?? 1, applied.report.refused.length > 0);
}

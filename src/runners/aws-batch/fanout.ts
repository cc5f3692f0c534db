/**
 * `nbatch build --aws-batch --array N | --each PATTERN`: after the checks,
 * the scan and the upload that a single job has too (run.ts), the task
 * list and one array job per lane, the run recorded, then followed.
 */
import type { SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { s3Url, type S3Object } from "../../aws/s3.js";
import type { BucketLocation } from "../../config/settings.js";
import { recordRun } from "../../history.js";
import type { BatchContext } from "../../job/context.js";
import { arrayIdOf, detachFanout, followFanout, type FanoutTarget } from "../../job/fanout/follow.js";
import { planLanes } from "../../job/fanout/lanes.js";
import { submitLanes } from "../../job/fanout/submit.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { taskResultsObject, tasksObject } from "../../job/layout.js";
import type { BuildRequest } from "../../job/request.js";
import type { Task } from "../../protocol.js";
import { createSelector } from "../../tree/patterns.js";
import { plural } from "../../ui/format.js";

/** What a fan-out submission takes of the build request. */
export type FanoutRequest = Pick<BuildRequest, "dir" | "command" | "env" | "download" | "excludeFromDownload" | "follow" | "fanout">;

export interface FanoutPlan {
  runId: string;
  input: SubmitJobCommandInput;
  tasks: Task[];
  /** The directory as it was uploaded. */
  baseline: readonly ManifestEntry[];
  inputsObj: S3Object;
  envObj?: S3Object;
  loc: BucketLocation;
  rerunOf?: string;
}

export async function submitFanout(req: FanoutRequest, run: FanoutPlan, ctx: BatchContext, interrupted: () => Error | undefined): Promise<FanoutTarget> {
  const { settings, out } = ctx;
  const { lanes, sequential } = planLanes(run.tasks.length, req.fanout?.parallel);
  const tasksObj = tasksObject(run.loc, run.runId);
  const submitted = await submitLanes(
    ctx,
    { input: run.input, lanes, sequential, tasks: run.tasks, tasksObj, tasksUrl: s3Url(tasksObj), env: run.envObj && { obj: run.envObj, values: req.env } },
    interrupted,
  );
  const target: FanoutTarget = {
    runId: run.runId,
    lanes: submitted,
    tasks: run.tasks,
    env: run.envObj,
    follow: req.fanout?.follow ?? [],
    results: req.follow.download
      ? { runId: run.runId, dir: req.dir, baseline: run.baseline, select: createSelector(req.download, req.excludeFromDownload), resultsOf: (i) => taskResultsObject(run.loc, run.runId, i) }
      : undefined,
  };
  const queue = settings.values.queue;
  const arrayId = arrayIdOf(target);
  const how = submitted.length > 1 ? ` in ${submitted.length} lanes of one task after another (--array-parallel ${submitted.length})` : "";
  out.info(`Submitted ${plural(run.tasks.length, "task")} as array job ${arrayId} (${run.input.jobName})${how} to queue ${queue}`);
  out.emit({ type: "submitted", runId: run.runId, jobId: arrayId, jobName: run.input.jobName!, queue, inputsUrl: s3Url(run.inputsObj), tasks: run.tasks.length, jobIds: submitted.map((l) => l.jobId) });
  out.exitCode(0, { jobId: arrayId, tasks: run.tasks.length });
  await recordRun(ctx.env, {
    runId: run.runId,
    jobId: arrayId,
    jobName: run.input.jobName!,
    dir: req.dir,
    queue,
    region: settings.aws.region,
    profile: settings.aws.credentials?.source === "profile" ? settings.aws.credentials.profile : undefined,
    bucket: s3Url({ bucket: run.loc.bucket, key: run.loc.prefix }),
    resultsUrl: s3Url(taskResultsObject(run.loc, run.runId, "{index}")),
    inputsUrl: s3Url(run.inputsObj),
    submittedAt: ctx.clock.now(),
    command: req.command,
    lanes: submitted.map((l) => l.jobId),
    tasks: run.tasks.length,
    ...(run.rerunOf ? { rerunOf: run.rerunOf } : {}),
  }).catch((err) => out.warn(`could not record the run in the local history: ${(err as Error).message}`));
  return target;
}

/** After SubmitJob: a signal that raced it means what it means once submitted, as for a single job. */
export function afterFanoutSubmission(target: FanoutTarget, req: Pick<BuildRequest, "follow">, ctx: BatchContext, raced: NodeJS.Signals | undefined): Promise<number> | number {
  if (raced === "SIGHUP") return detachFanout(target, req.follow, ctx.out, "Detached");
  if (req.follow.detach && !raced) {
    // The array id alone on stdout, as for a single job: id=$(nbatch build --detach --array N ...).
    if (!ctx.out.json) ctx.out.out(arrayIdOf(target));
    return detachFanout(target, req.follow, ctx.out, "Submitted with --detach");
  }
  return followFanout(target, req.follow, ctx, raced !== undefined);
}

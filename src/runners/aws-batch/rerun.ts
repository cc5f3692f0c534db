/**
 * `nbatch build --rerun-failed <run-or-job-id> [dir]`: a new run of only
 * the tasks that failed, each with its own index and item, from the same
 * inputs, the same command and the same job settings, whose results come
 * home under the same rule as the first time.
 */
import { basename } from "node:path";
import { DescribeJobsCommand, ListJobsCommand, type JobDetail } from "@aws-sdk/client-batch";
import { getBytes, objectExists, s3Url, type S3, type S3Object } from "../../aws/s3.js";
import type { BucketLocation } from "../../config/settings.js";
import { UsageError, UserError } from "../../errors.js";
import { findRun } from "../../history.js";
import { isDone } from "../../job/batch.js";
import type { BatchContext } from "../../job/context.js";
import { beforeSubmission } from "../../job/control.js";
import { findJobDefinition } from "../../job/definition.js";
import { positionOf } from "../../job/fanout/lanes.js";
import { isFanout, jobEnvironment, lookupFanout, type FanoutRun } from "../../job/fanout/lookup.js";
import { checkFollowed, type FanoutSpec } from "../../job/fanout/tasks.js";
import { envObject, packObject, taskLogObject, taskResultsObject } from "../../job/layout.js";
import type { FollowPrefs } from "../../job/request.js";
import { submitInput } from "../../job/submit.js";
import { INDEX_TOKEN, JOB_ENV, type Task } from "../../protocol.js";
import { decodeTree } from "../../protocol-tree.js";
import { newRunId } from "../../runid.js";
import { plural } from "../../ui/format.js";
import { InterruptedError } from "../../errors.js";
import { baseline } from "./attach.js";
import { afterFanoutSubmission, submitFanout } from "./fanout.js";

export interface RerunRequest {
  id: string;
  /** Where results go; the run's own directory when left out. */
  dir?: string;
  env: Record<string, string>;
  download: string[];
  excludeFromDownload: string[];
  follow: FollowPrefs;
  fanout: FanoutSpec;
}

export async function runRerun(req: RerunRequest, ctx: BatchContext): Promise<number> {
  const { clients, out } = ctx;
  const record = await findRun(ctx.env, req.id);
  const first = (await clients.batch.send(new DescribeJobsCommand({ jobs: [record?.jobId ?? req.id] }))).jobs?.[0];
  if (!first && !record) throw new UserError(`run ${req.id} is known neither to Batch in ${ctx.settings.aws.region} nor to this machine's run history: check the id (nbatch ls)`);
  if (first && !isFanout(first)) throw new UsageError(`${req.id} is a single job, not a fan-out run: run it again with nbatch build`);
  const run = await lookupFanout(clients.batch, clients.s3, record?.lanes ?? [first!.jobId!]);
  if (!run.parents.every((p) => isDone(p.status!))) throw new UserError(`run ${run.runId} is still going: wait for it to end (nbatch status ${run.lanes[0]!.jobId}) or cancel it (nbatch cancel ${run.lanes[0]!.jobId}) first`);
  const failed = await failedTasks(ctx, run);
  if (!failed.length) {
    out.info(`All ${plural(run.tasks.length, "task")} of run ${run.runId} succeeded: nothing to run again`);
    return 0;
  }
  checkFollowed(req.fanout.follow, failed);
  await checkInputs(clients.s3, run);
  if (run.env && !Object.keys(req.env).length) throw new UsageError(`run ${run.runId} was given --env values, which nbatch deletes once a run ends: give them again with --env`);
  const dir = req.dir ?? record?.dir ?? fail(`give the directory to bring the results into: nbatch build --rerun-failed ${req.id} <dir>`);
  const runId = newRunId(ctx.clock.now());
  const loc = locationOf(run.inputs);
  const envObj = Object.keys(req.env).length ? envObject(loc, runId) : undefined;
  const input = await rerunInput(ctx, run.parents[0]!, { runId, dirName: basename(dir), envObj, loc });
  out.info(`Running ${plural(failed.length, "failed task")} of run ${run.runId} again (${failed.map((t) => t.index).join(", ")}), from its inputs ${s3Url(run.inputs)}`);
  const interrupt = beforeSubmission(ctx.signals);
  let target;
  try {
    const interrupted = () => (interrupt.signal.aborted ? new InterruptedError("Interrupted before the tasks were submitted; nothing was submitted") : undefined);
    const parallel = req.fanout.parallel ?? (run.lanes.length > 1 ? run.lanes.length : undefined);
    const request = { dir, command: [], env: req.env, download: req.download, excludeFromDownload: req.excludeFromDownload, follow: req.follow, fanout: { ...req.fanout, parallel } };
    target = await submitFanout(request, { runId, input, tasks: failed, baseline: req.follow.download ? await baseline(ctx, run.inputs) : [], inputsObj: run.inputs, envObj, loc, rerunOf: run.runId }, ctx, interrupted);
  } finally {
    interrupt.dispose();
  }
  const raced = interrupt.signal.aborted ? (interrupt.signal.reason as NodeJS.Signals) : undefined;
  return afterFanoutSubmission(target, req, ctx, raced);
}

/** The tasks whose child did not succeed: failed, cancelled, or never run because one before it in its lane failed. */
async function failedTasks(ctx: BatchContext, run: FanoutRun): Promise<Task[]> {
  const succeeded = new Set<number>();
  for (const [i, lane] of run.lanes.entries()) {
    if (lane.size < 2) {
      if (run.parents[i]!.status === "SUCCEEDED") succeeded.add(lane.offset);
      continue;
    }
    let nextToken: string | undefined;
    do {
      const page = await ctx.clients.batch.send(new ListJobsCommand({ arrayJobId: lane.jobId, jobStatus: "SUCCEEDED", nextToken }));
      for (const c of page.jobSummaryList ?? []) if (c.arrayProperties?.index !== undefined) succeeded.add(positionOf(lane, c.arrayProperties.index));
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return run.tasks.filter((_, position) => !succeeded.has(position));
}

/** The first run's request, as Batch kept it: its job definition, queue, command, resources, retries, timeout, share and tags. */
async function rerunInput(ctx: BatchContext, parent: JobDetail, o: { runId: string; dirName: string; envObj?: S3Object; loc: BucketLocation }) {
  const env = jobEnvironment(parent);
  const container = parent.container ?? parent.ecsProperties?.taskProperties?.[0]?.containers?.find((c) => c.essential !== false);
  const words = container?.command ?? [];
  const split = words.indexOf("--");
  const resources = new Map((container?.resourceRequirements ?? []).map((r) => [r.type, r.value]));
  const def = await findJobDefinition(ctx.clients.batch, parent.jobDefinition!, ctx.settings.aws.region);
  const values = {
    queue: parent.jobQueue!,
    agentCommand: words.slice(0, split),
    cpus: resources.has("VCPU") ? Number(resources.get("VCPU")) : undefined,
    memoryMiB: resources.has("MEMORY") ? Number(resources.get("MEMORY")) : undefined,
  };
  const tags = Object.fromEntries(Object.entries(parent.tags ?? {}).filter(([k]) => !/^(aws|nbatch):/.test(k)));
  return submitInput(values, {
    runId: o.runId,
    dirName: o.dirName,
    jobDefinition: def,
    userCommand: words.slice(split + 1),
    inputsUrl: env.get(JOB_ENV.inputsUrl)!,
    resultsUrl: s3Url(taskResultsObject(o.loc, o.runId, INDEX_TOKEN)),
    logUrl: s3Url(taskLogObject(o.loc, o.runId, INDEX_TOKEN)),
    envUrl: o.envObj && s3Url(o.envObj),
    retryStrategy: parent.retryStrategy,
    timeoutSeconds: parent.timeout?.attemptDurationSeconds,
    shareIdentifier: parent.shareIdentifier,
    schedulingPriority: parent.schedulingPriority,
    gpus: resources.has("GPU") ? Number(resources.get("GPU")) : undefined,
    resume: env.get(JOB_ENV.resume) === "1",
    tags,
    aws: ctx.settings.aws,
  });
}

/** A rerun needs every piece of the first run's inputs: its tree (or protocol 1 archive) and each pack the tree names. */
async function checkInputs(s3: S3, run: FanoutRun): Promise<void> {
  const gone = (obj: S3Object) => new UserError(`the inputs of run ${run.runId} (${s3Url(obj)}) are gone, expired by the bucket's lifecycle rule or deleted: run the tasks afresh with nbatch build`);
  if (run.inputs.key.endsWith(".zip")) {
    if (!(await objectExists(s3, run.inputs))) throw gone(run.inputs);
    return;
  }
  const raw = await getBytes(s3, run.inputs);
  if (!raw) throw gone(run.inputs);
  const loc = locationOf(run.inputs);
  const packs = decodeTree(raw, `the inputs ${s3Url(run.inputs)}`).packs.map((id) => packObject(loc, id));
  const present = await Promise.all(packs.map((obj) => objectExists(s3, obj)));
  const missing = packs.find((_, i) => !present[i]);
  if (missing) throw gone(missing);
}

/** The bucket and prefix a run's objects are under, from its inputs' key (<prefix>/inputs/...). */
function locationOf(inputs: S3Object): BucketLocation {
  const at = inputs.key.startsWith("inputs/") ? 0 : inputs.key.lastIndexOf("/inputs/");
  return { bucket: inputs.bucket, prefix: at <= 0 ? "" : inputs.key.slice(0, at) };
}

function fail(message: string): never {
  throw new UsageError(message);
}

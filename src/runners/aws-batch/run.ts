import { basename } from "node:path";
import type { JobDefinition } from "@aws-sdk/client-batch";
import { s3Url, type S3Object } from "../../aws/s3.js";
import { requireBucket } from "../../config/resolve.js";
import { InterruptedError } from "../../errors.js";
import { recordRun } from "../../history.js";
import type { BatchContext } from "../../job/context.js";
import { beforeSubmission } from "../../job/control.js";
import { deriveJobDefinition, findJobDefinition, hasChanges, requestedBy } from "../../job/definition.js";
import { envObject, logObject, resultsObject, taskLogObject, taskResultsObject, tasksObject, treeObject } from "../../job/layout.js";
import { takeInventory } from "../../job/inventory.js";
import { checkFollowed, planTasks } from "../../job/fanout/tasks.js";
import { laneInput, planLanes } from "../../job/fanout/lanes.js";
import type { FanoutTarget } from "../../job/fanout/follow.js";
import { INDEX_TOKEN } from "../../protocol.js";
import { checkWorkdir, excludedLines, scanInputs, warnLeftOut } from "../../job/pack.js";
import { checkSubmitLimits } from "../../job/limits.js";
import { checkFargateSize, checkResources, platformOf } from "../../job/platform.js";
import { checkBucket, checkDefinitionForm, checkQueue, defaultShare, queueEnvironments, shareFor } from "../../job/preflight.js";
import { retryStrategyFor } from "../../job/retries.js";
import type { BuildRequest } from "../../job/request.js";
import { submitInput, submitJob } from "../../job/submit.js";
import { planUpload, TREE_NAME_PENDING, uploadInputs } from "../../job/upload.js";
import { newRunId } from "../../runid.js";
import { createSelector } from "../../tree/patterns.js";
import { printDryRun } from "./dry-run.js";
import type { FollowTarget } from "./follow.js";

/**
 * `nbatch build --aws-batch`: the stages of a job in order (docs/organisation.md):
 * check, pack and upload, submit, then follow the job to its end.
 */
export async function runAwsBatch(req: BuildRequest, ctx: BatchContext): Promise<number> {
  const { settings, clients, out } = ctx;
  const loc = requireBucket(settings);
  const interrupt = beforeSubmission(ctx.signals);
  let target: FollowTarget | undefined;
  let fanned: FanoutTarget | undefined;
  let fanout: typeof import("./fanout.js") | undefined;
  let follow: typeof import("./follow.js") | undefined;
  try {
    const bucketChecked = checkBucket(clients.s3, loc.bucket, settings.aws.s3?.expectedBucketOwner);
    const scanned = scanInputs(req.dir, req.excludeFromUpload, ctx.env);
    // The listing goes out beside the bucket check; a missing bucket is still told by the check.
    const listed = takeInventory(clients.s3, loc, ctx.clock.now());
    listed.catch(() => undefined);
    const inventory = bucketChecked.then(() => listed);
    const [inputs, { jobDefinition, share }, inv] = await Promise.all([scanned, jobDefinitionFor(req, ctx, bucketChecked), inventory]);
    warnLeftOut(inputs, (line) => out.warn(line));
    checkWorkdir(inputs, req.workdir);
    if (inv.assumed) out.detail(`could not read the bucket's lifecycle rules (${inv.assumed}): taking them to expire objects after ${inv.expiry.days} day`);
    const upload = await planUpload(ctx, loc, inputs, inv);
    const tasks = req.fanout && planTasks(req.fanout, inputs.manifest.entries, req.dir);
    if (tasks) checkFollowed(req.fanout!.follow, tasks);
    const runId = newRunId(ctx.clock.now());
    const envObj = Object.keys(req.env).length ? envObject(loc, runId) : undefined;
    const resultsObj = tasks ? taskResultsObject(loc, runId, INDEX_TOKEN) : resultsObject(loc, runId);
    const request = (inputsObj: S3Object) =>
      submitInput(settings.values, {
        runId,
        dirName: basename(req.dir),
        jobDefinition,
        userCommand: req.command,
        workdir: req.workdir,
        inputsUrl: s3Url(inputsObj),
        resultsUrl: s3Url(resultsObj),
        envUrl: envObj && s3Url(envObj),
        retryStrategy: retryStrategyFor(req.retries, req.retryOn, jobDefinition),
        logUrl: s3Url(tasks ? taskLogObject(loc, runId, INDEX_TOKEN) : logObject(loc, runId)),
        timeoutSeconds: req.timeoutSeconds,
        ...share,
        gpus: req.resources.gpus,
        resume: req.resume,
        tags: req.tags,
        aws: settings.aws,
      });
    // Until the pack is up the tree's name is not known, but its length is; a fan-out's largest request is its first lane's.
    const pending = request(treeObject(loc, upload.tree?.fingerprint ?? TREE_NAME_PENDING));
    const first = tasks && laneInput(pending, planLanes(tasks.length, req.fanout!.parallel).lanes[0]!, req.fanout!.parallel !== undefined, s3Url(tasksObject(loc, runId)));
    checkSubmitLimits(first ?? pending);
    if (req.dryRun) return printDryRun(out, inputs, upload, first ?? pending, tasks?.length);
    for (const line of excludedLines(inputs)) out.detail(line);

    const { fresh, reused } = upload;
    out.emit({ type: "run", runId, dir: req.dir, files: inputs.manifest.files, bytes: inputs.manifest.bytes, uploaded: !upload.unchanged, uploadedFiles: fresh.files, uploadedBytes: fresh.bytes, reusedFiles: reused.files, reusedBytes: reused.bytes });
    const uploading = ctx.clock.now();
    const inputsObj = await uploadInputs(ctx, loc, inputs, upload, runId, interrupt.signal);
    const uploadMs = upload.unchanged ? undefined : ctx.clock.now() - uploading;
    // Every job of the run, each lane and child alike, gets the same tree.
    const input = request(inputsObj);
    // Following (log tail, results, the zip reader) loads beside SubmitJob, not before the upload.
    const following = import("./follow.js");
    following.catch(() => undefined);
    const interrupted = () => (interrupt.signal.aborted ? new InterruptedError("Interrupted before the job was submitted; nothing was submitted") : undefined);
    if (tasks) {
      fanout = await import("./fanout.js");
      fanned = await fanout.submitFanout(req, { runId, input, tasks, baseline: inputs.manifest.entries, inputsObj, envObj, loc }, ctx, interrupted);
    } else {
      const jobId = await submitJob(ctx, { input, env: envObj && { obj: envObj, values: req.env } }, interrupted);
      const queue = settings.values.queue;
      out.info(`Submitted job ${jobId} (${input.jobName}) to queue ${queue}`);
      out.emit({ type: "submitted", runId, jobId, jobName: input.jobName!, queue, inputsUrl: s3Url(inputsObj) });
      out.exitCode(0, { jobId });
      await recordRun(ctx.env, {
        runId,
        jobId,
        jobName: input.jobName!,
        dir: req.dir,
        queue,
        region: settings.aws.region,
        // Only a profile that gave the credentials says which account the job is in.
        profile: settings.aws.credentials?.source === "profile" ? settings.aws.credentials.profile : undefined,
        bucket: s3Url({ bucket: loc.bucket, key: loc.prefix }),
        resultsUrl: s3Url(resultsObj),
        inputsUrl: s3Url(inputsObj),
        logUrl: s3Url(logObject(loc, runId)),
        submittedAt: ctx.clock.now(),
        command: req.command,
      }).catch((err) => out.warn(`could not record the run in the local history: ${(err as Error).message}`));
      target = { jobId, runId, results: resultsObj, env: envObj, dir: req.dir, baseline: inputs.manifest.entries, select: createSelector(req.download, req.excludeFromDownload), uploadMs };
      // Loaded while our handlers still catch a Ctrl-C, which then cancels the job below.
      follow = await following;
    }
  } finally {
    interrupt.dispose();
  }
  // A signal that raced SubmitJob means what it means after submission: a hangup detaches, Ctrl-C and SIGTERM cancel.
  const raced = interrupt.signal.aborted ? (interrupt.signal.reason as NodeJS.Signals) : undefined;
  if (fanned) return fanout!.afterFanoutSubmission(fanned, req, ctx, raced);
  if (raced === "SIGHUP") return follow!.detach(target!, req.follow, out, "Detached");
  if (req.follow.detach && !raced) {
    // The id alone on stdout, for id=$(nbatch build --detach ...); --json says it in its events.
    if (!out.json) out.out(target!.jobId);
    return follow!.detach(target!, req.follow, out, "Submitted with --detach");
  }
  return follow!.followJob(target!, req.follow, ctx, raced !== undefined);
}

/**
 * The job definition to submit against, checked against the queue before
 * anything is uploaded: its form, where it runs (EC2 or Fargate) and what
 * that allows, the queue's fair share; derived when the run changes it.
 */
async function jobDefinitionFor(req: BuildRequest, ctx: BatchContext, bucketChecked: Promise<void>): Promise<{ jobDefinition: JobDefinition; share: ReturnType<typeof shareFor> }> {
  const { clients, settings } = ctx;
  const { values } = settings;
  const region = settings.aws.region;
  const [, queue] = await Promise.all([bucketChecked, checkQueue(clients.batch, values.queue, region)]);
  const def = await findJobDefinition(clients.batch, values.job, region);
  checkDefinitionForm(def);
  const share = shareFor(queue, values.share ?? defaultShare(ctx.env), req.priority);
  const platform = platformOf(def, await queueEnvironments(clients.batch, queue));
  checkResources(platform, req.resources);
  if (platform === "FARGATE") {
    const asked = requestedBy(def);
    checkFargateSize(values.cpus ?? asked.cpus, values.memoryMiB ?? asked.memoryMiB);
  }
  const changes = { image: req.image, secrets: req.secrets, ...req.resources };
  if (!hasChanges(changes)) return { jobDefinition: def, share };
  return { jobDefinition: await deriveJobDefinition(clients.batch, def, changes, region, { register: !req.dryRun }), share };
}

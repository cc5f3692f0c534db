import { basename } from "node:path";
import { SubmitJobCommand, type JobDefinition } from "@aws-sdk/client-batch";
import { aws } from "../../aws/errors.js";
import { deleteObject, objectExists, putText, s3Url, uploadStream, type S3Object } from "../../aws/s3.js";
import { requireBucket } from "../../config/resolve.js";
import { InterruptedError } from "../../errors.js";
import { recordRun } from "../../history.js";
import { newRunId } from "../../runid.js";
import { formatBytes, plural } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import { createSelector } from "../../tree/patterns.js";
import { packInputChunks, scanInputs, warnLeftOut, type Inputs } from "../../job/pack.js";
import type { BuildRequest } from "../../job/request.js";
import { printDryRun } from "./dry-run.js";
import type { FollowDeps, FollowTarget } from "./follow.js";
import { envObject, inputsObject, resultsObject } from "../../job/layout.js";
import { checkBucket, checkQueue, deriveJobDefinition, findJobDefinition } from "../../job/definition.js";
import { submitInput } from "../../job/submit.js";

export type AwsBatchDeps = FollowDeps;

/** `nbatch build --aws-batch`: check, pack, submit, then follow the job to its end. */
export async function runAwsBatch(req: BuildRequest, deps: AwsBatchDeps): Promise<number> {
  const { settings, clients, reporter } = deps;
  const region = settings.aws.region;
  const loc = requireBucket(settings);

  // Until the job exists, Ctrl-C (or SIGTERM) abandons everything cleanly.
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  deps.signals.on("SIGINT", onInterrupt);
  deps.signals.on("SIGTERM", onInterrupt);
  let target: FollowTarget;
  let following: Promise<typeof import("./follow.js")> | undefined;
  let follow: typeof import("./follow.js");
  try {
    // The inputs' HeadObject waits for the scan and the bucket check, not for the Batch checks.
    const bucketChecked = checkBucket(clients.s3, loc.bucket, region, settings.aws.s3?.expectedBucketOwner);
    const scanned = scanInputs(req.dir, req.excludeFromUpload);
    const present = Promise.all([scanned, bucketChecked]).then(([inputs]) => {
      const obj = inputsObject(loc, inputs.fingerprint);
      return s3(deps, "s3:GetObject", obj, () => objectExists(clients.s3, obj));
    });
    const [inputs, jobDefinition, exists] = await Promise.all([scanned, jobDefinitionFor(req, deps, bucketChecked), present]);
    warnLeftOut(inputs, (line) => reporter.warn(line));
    const inputsObj = inputsObject(loc, inputs.fingerprint);
    const runId = newRunId(deps.clock.now());
    const envObj = Object.keys(req.env).length ? envObject(loc, runId) : undefined;
    const resultsObj = resultsObject(loc, runId);
    const input = submitInput(settings.awsBatch, {
      runId,
      dirName: basename(req.dir),
      jobDefinition,
      userCommand: req.command,
      inputsUrl: s3Url(inputsObj),
      resultsUrl: s3Url(resultsObj),
      envUrl: envObj && s3Url(envObj),
      retries: req.retries,
      timeoutSeconds: req.timeoutSeconds,
      tags: req.tags,
      s3Policy: settings.aws.s3,
    });
    const uploaded = !exists;
    if (req.dryRun) return printDryRun(reporter, inputs, inputsObj, uploaded, input);

    reporter.emit({ type: "run", runId, dir: req.dir, files: inputs.manifest.files, bytes: inputs.manifest.bytes, inputsUrl: s3Url(inputsObj), uploaded });
    await uploadInputs(deps, inputs, inputsObj, uploaded, interrupt.signal);
    // Following (log tail, results, unzipper) loads beside SubmitJob, not before the upload.
    following = import("./follow.js");
    following.catch(() => undefined);
    const interrupted = () => new InterruptedError("Interrupted before the job was submitted; nothing was submitted");
    if (interrupt.signal.aborted) throw interrupted();
    let submitted;
    try {
      if (envObj) await s3(deps, "s3:PutObject", envObj, () => putText(clients.s3, envObj, JSON.stringify(req.env)));
      if (interrupt.signal.aborted) throw interrupted();
      submitted = await aws({ action: "batch:SubmitJob", resource: `job queue ${settings.awsBatch.queue}`, region }, () =>
        clients.batch.send(new SubmitJobCommand(input)),
      );
    } catch (err) {
      // No job will read the values: they must not stay in the bucket.
      if (envObj) await deleteObject(clients.s3, envObj).catch(() => undefined);
      throw err;
    }
    const jobId = submitted.jobId!;
    reporter.info(`Submitted job ${jobId} (${input.jobName}) to queue ${settings.awsBatch.queue}`);
    reporter.emit({ type: "submitted", runId, jobId, jobName: input.jobName!, queue: settings.awsBatch.queue });
    await recordRun(deps.env, {
      runId,
      jobId,
      jobName: input.jobName!,
      dir: req.dir,
      queue: settings.awsBatch.queue,
      region,
      profile: settings.aws.profile,
      bucket: s3Url({ bucket: loc.bucket, key: loc.prefix }),
      resultsUrl: s3Url(resultsObj),
      inputsUrl: s3Url(inputsObj),
      submittedAt: deps.clock.now(),
      command: req.command,
    }).catch((err) => reporter.warn(`could not record the run in the local history: ${(err as Error).message}`));
    target = {
      jobId,
      runId,
      results: resultsObj,
      env: envObj,
      dir: req.dir,
      baseline: inputs.manifest.entries,
      select: createSelector(req.download, req.excludeFromDownload),
    };
    // Loaded while our handlers still catch a Ctrl-C, which then cancels the job below.
    follow = await following;
  } finally {
    deps.signals.off("SIGINT", onInterrupt);
    deps.signals.off("SIGTERM", onInterrupt);
  }
  const { detach, followJob } = follow;
  if (req.follow.detach && !interrupt.signal.aborted) return detach(target, req.follow, reporter, "Submitted with --detach");
  // A Ctrl-C that raced SubmitJob is a Ctrl-C after submission: cancel what was just started.
  return followJob(target, req.follow, deps, interrupt.signal.aborted);
}

async function jobDefinitionFor(req: BuildRequest, deps: AwsBatchDeps, bucketChecked: Promise<void>): Promise<JobDefinition> {
  const { clients, settings } = deps;
  const region = settings.aws.region;
  await Promise.all([bucketChecked, checkQueue(clients.batch, settings.awsBatch.queue, region)]);
  const def = await findJobDefinition(clients.batch, settings.awsBatch.job, region);
  if (!req.image && !req.secrets.length) return def;
  return deriveJobDefinition(clients.batch, def, { image: req.image, secrets: req.secrets }, region, { register: !req.dryRun });
}

function s3<T>(deps: AwsBatchDeps, action: string, obj: S3Object, fn: () => Promise<T>): Promise<T> {
  return aws({ action, resource: s3Url(obj), region: deps.settings.aws.region }, fn);
}

async function uploadInputs(deps: AwsBatchDeps, inputs: Inputs, obj: S3Object, needed: boolean, signal: AbortSignal): Promise<void> {
  const { reporter, clients } = deps;
  const what = `${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}`;
  if (!needed) {
    reporter.info(`Inputs unchanged (${what}): already at ${s3Url(obj)}`);
    return;
  }
  reporter.info(`Uploading ${inputs.dir} (${what}) to ${s3Url(obj)}`);
  const started = deps.clock.now();
  let read = 0;
  const progress = startProgress(reporter.io, deps.clock, "Uploading", inputs.manifest.bytes);
  try {
    const body = packInputChunks(inputs, (n) => progress.update((read += n)));
    await s3(deps, "s3:PutObject", obj, () => uploadStream(clients.s3, obj, body, { signal, estimatedBytes: inputs.manifest.bytes }));
  } catch (err) {
    if (signal.aborted) throw new InterruptedError("Interrupted while uploading; the partial upload was aborted and nothing was submitted");
    throw err;
  } finally {
    progress.finish();
  }
  reporter.info(`Uploaded in ${((deps.clock.now() - started) / 1000).toFixed(1)} s`);
}

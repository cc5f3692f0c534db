import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { SubmitJobCommand } from "@aws-sdk/client-batch";
import type { AwsClients } from "../../aws/clients.js";
import { aws } from "../../aws/errors.js";
import { deleteObject, downloadToFile, objectExists, putText, s3Url, uploadStream, type S3Object } from "../../aws/s3.js";
import type { Clock } from "../../clock.js";
import { requireBucket } from "../../config/resolve.js";
import type { Settings } from "../../config/settings.js";
import { InterruptedError } from "../../errors.js";
import { newRunId } from "../../runid.js";
import type { IO } from "../../ui/io.js";
import { formatBytes, plural } from "../../ui/format.js";
import { createSelector } from "../../workdir/patterns.js";
import { packInputs, scanInputs, type Inputs } from "../inputs.js";
import type { BuildRequest } from "../request.js";
import { applyResults } from "../results.js";
import { summary, type JobState } from "./jobs.js";
import { envObject, inputsObject, resultsObject } from "./layout.js";
import { checkBucket, checkQueue, findJobDefinition, withImage } from "./resources.js";
import { submitInput } from "./submit.js";
import { watchJob } from "./watch.js";

export interface AwsBatchDeps {
  settings: Settings;
  clients: AwsClients;
  io: IO;
  clock: Clock;
  /** Emits SIGINT and friends (process, in production). */
  signals: NodeJS.EventEmitter;
}

/** `nbatch build --aws-batch`: check, pack, submit, watch, download, exit with the job's status. */
export async function runAwsBatch(req: BuildRequest, deps: AwsBatchDeps): Promise<number> {
  const { settings, clients, io } = deps;
  const region = settings.aws.region;
  const loc = requireBucket(settings);
  const b = settings.awsBatch;

  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  deps.signals.on("SIGINT", onInterrupt);
  deps.signals.on("SIGTERM", onInterrupt);
  let jobId: string | undefined;
  try {
    const [inputs, jobDefinition] = await Promise.all([
      scanInputs(req.dir, req.excludeFromUpload),
      (async () => {
        await Promise.all([checkBucket(clients.s3, loc.bucket, region), checkQueue(clients.batch, b.queue, region)]);
        const def = await findJobDefinition(clients.batch, b.job, region);
        return req.image ? withImage(clients.batch, def, req.image, region) : def;
      })(),
    ]);
    const inputsObj = inputsObject(loc, inputs.fingerprint);
    await uploadInputs(deps, inputs, inputsObj, interrupt.signal);

    const runId = newRunId(deps.clock.now());
    const envObj = Object.keys(req.env).length ? envObject(loc, runId) : undefined;
    const resultsObj = resultsObject(loc, runId);
    const input = submitInput(b, {
      runId,
      dirName: basename(req.dir),
      jobDefinition,
      userCommand: req.command,
      inputsUrl: s3Url(inputsObj),
      resultsUrl: s3Url(resultsObj),
      envUrl: envObj && s3Url(envObj),
    });
    if (envObj) await s3Call(settings, "s3:PutObject", envObj, () => putText(clients.s3, envObj, JSON.stringify(req.env)));
    if (interrupt.signal.aborted) throw new InterruptedError("Interrupted before the job was submitted; nothing was submitted");
    const submitted = await aws({ action: "batch:SubmitJob", resource: `job queue ${b.queue}`, region }, () =>
      clients.batch.send(new SubmitJobCommand(input)),
    );
    jobId = submitted.jobId!;
    io.info(`Submitted job ${jobId} (${input.jobName}) to queue ${b.queue}`);

    deps.signals.off("SIGINT", onInterrupt);
    deps.signals.off("SIGTERM", onInterrupt);
    const stop = new AbortController();
    const detach = () => stop.abort();
    deps.signals.on("SIGINT", detach);
    try {
      const job = await watchJob({ ...clients, clock: deps.clock, io, jobId, pollIntervalMs: b.pollIntervalMs, stop: stop.signal });
      if (stop.signal.aborted) {
        io.info(`Stopped watching; job ${jobId} goes on running in AWS Batch`);
        return 130;
      }
      io.info(summary(job));
      const downloaded = await downloadResults(deps, req, inputs, resultsObj, runId);
      if (envObj) await deleteObject(clients.s3, envObj).catch(() => undefined);
      return exitCode(job, downloaded);
    } finally {
      deps.signals.off("SIGINT", detach);
    }
  } finally {
    deps.signals.off("SIGINT", onInterrupt);
    deps.signals.off("SIGTERM", onInterrupt);
  }
}

function s3Call<T>(settings: Settings, action: string, obj: S3Object, fn: () => Promise<T>): Promise<T> {
  return aws({ action, resource: s3Url(obj), region: settings.aws.region }, fn);
}

async function uploadInputs(deps: AwsBatchDeps, inputs: Inputs, obj: S3Object, signal: AbortSignal): Promise<void> {
  const { io, clients, settings } = deps;
  const what = `${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}`;
  if (await s3Call(settings, "s3:GetObject", obj, () => objectExists(clients.s3, obj))) {
    io.info(`Inputs unchanged (${what}): already at ${s3Url(obj)}`);
    return;
  }
  io.info(`Uploading ${inputs.dir} (${what}) to ${s3Url(obj)}`);
  const started = deps.clock.now();
  try {
    await s3Call(settings, "s3:PutObject", obj, () => uploadStream(clients.s3, obj, packInputs(inputs), { signal }));
  } catch (err) {
    if (signal.aborted) throw new InterruptedError("Interrupted while uploading; the partial upload was aborted and nothing was submitted");
    throw err;
  }
  io.info(`Uploaded in ${((deps.clock.now() - started) / 1000).toFixed(1)} s`);
}

type Download = "ok" | "missing" | "refused";

async function downloadResults(deps: AwsBatchDeps, req: BuildRequest, inputs: Inputs, obj: S3Object, runId: string): Promise<Download> {
  const tmp = await mkdtemp(join(tmpdir(), "nbatch-results-"));
  try {
    const archive = join(tmp, "results.zip");
    if (!(await s3Call(deps.settings, "s3:GetObject", obj, () => downloadToFile(deps.clients.s3, obj, archive)))) {
      deps.io.warn(`the job left no results at ${s3Url(obj)}: its image may not run the nbatch agent (see docs/job-image/), or it was stopped before the agent could upload`);
      return "missing";
    }
    const { report } = await applyResults({
      archivePath: archive,
      dir: req.dir,
      runId,
      baseline: inputs.manifest.entries,
      select: createSelector(req.download, req.excludeFromDownload),
      io: deps.io,
    });
    return report.refused.length ? "refused" : "ok";
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The job's exit code; a job that failed without one, or results refused, make it 1. */
function exitCode(job: JobState, download: Download): number {
  const code = job.exitCode ?? (job.status === "SUCCEEDED" ? 0 : 1);
  const jobCode = job.status === "FAILED" && code === 0 ? 1 : code;
  return jobCode === 0 && download === "refused" ? 1 : jobCode;
}

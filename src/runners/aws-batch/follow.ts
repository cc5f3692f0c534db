import { join } from "node:path";
import { deleteObject, s3Url, type S3Object } from "../../aws/s3.js";
import { EXIT } from "../../errors.js";
import { applyResults, exitWithRefusals, type Applied } from "../../job/apply.js";
import { attemptStreams, summary, terminateJob, type JobState } from "../../job/batch.js";
import { rememberLogs } from "../../history.js";
import type { BatchContext } from "../../job/context.js";
import { whileWatching, type ControlAction } from "../../job/control.js";
import { fetchArchive } from "../../job/fetch.js";
import type { FollowPrefs } from "../../job/request.js";
import { watchJob } from "../../job/watch.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { withTempDir } from "../../tree/temp-files.js";
import { shellQuote } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import { stagesLine } from "../../ui/timings.js";

/** A submitted job and where its results go. */
export interface FollowTarget {
  jobId: string;
  runId: string;
  results: S3Object;
  env?: S3Object;
  /** Where results are applied; undefined when not downloading. */
  dir?: string;
  /** The local directory as uploaded, to keep local edits made while the job ran. */
  baseline: readonly ManifestEntry[];
  /** The --download selection; undefined brings back everything. */
  select?: (relPath: string) => boolean;
  /** How long the inputs took to upload, when they were uploaded. */
  uploadMs?: number;
}

/** The command that re-attaches to a job. */
function attachCommand(jobId: string, dir: string | undefined, prefs: FollowPrefs): string {
  return ["nbatch build", ...prefs.attachFlags, "--attach", jobId, ...(dir ? [shellQuote(dir)] : ["--no-download"])].join(" ");
}

export function detach(target: FollowTarget, prefs: FollowPrefs, out: BatchContext["out"], why: string): number {
  const attach = attachCommand(target.jobId, target.dir, prefs);
  out.info(`${why}; job ${target.jobId} goes on running in AWS Batch. Re-attach with:\n  ${attach}`);
  out.emit({ type: "detached", jobId: target.jobId, attach });
  return EXIT.ok;
}

/**
 * Watches a job to its end under the user's control (signals), then brings
 * the results home and returns the exit code.
 */
export async function followJob(target: FollowTarget, prefs: FollowPrefs, ctx: BatchContext, cancelNow = false): Promise<number> {
  const { out, clients } = ctx;
  const stop = new AbortController();
  let action: ControlAction | undefined;
  const cancel = (why: string) => {
    out.info(`Cancelling job ${target.jobId} (${why}); waiting for it to stop. Press Ctrl-C once more to exit at once`);
    terminateJob(clients.batch, target.jobId, ctx.env).catch((err) => out.warn(`could not cancel job ${target.jobId}: ${(err as Error).message}`));
  };
  const control = whileWatching({
    signals: ctx.signals,
    out,
    clock: ctx.clock,
    detachOnInterrupt: prefs.detachOnInterrupt,
    jobId: target.jobId,
    onAction(a, sig) {
      action = a;
      if (a === "cancel") cancel(sig);
      else stop.abort();
    },
  });
  if (cancelNow) {
    action = "cancel";
    cancel("--cancel");
  }
  out.exitCode(0, { jobId: target.jobId });
  let job: JobState;
  try {
    job = await watchJob({
      ...clients,
      clock: ctx.clock,
      out,
      jobId: target.jobId,
      pollIntervalMs: ctx.settings.values.pollIntervalMs,
      stop: stop.signal,
      showLogs: prefs.logs,
    });
  } finally {
    control.dispose();
  }
  // Where the log is, for `nbatch logs` once Batch has forgotten the job.
  await rememberLogs(ctx.env, target.runId, job.logGroup, attemptStreams(job)).catch(() => undefined);
  if (action === "detach") return detach(target, prefs, out, "Detached");
  if (action === "exit") {
    out.info(`Stopped watching; job ${target.jobId} was asked to stop and may still be stopping`);
    return EXIT.interrupted;
  }
  out.info(summary(job));
  out.exitCode(0, { status: job.status, jobExitCode: job.exitCode });
  const downloading = ctx.clock.now();
  const applied = prefs.download && target.dir ? await bringResultsHome(ctx, target, target.dir) : undefined;
  const took = stagesLine([
    ["upload", target.uploadMs],
    ["wait", job.startedAt && job.createdAt && job.startedAt - job.createdAt],
    ["run", job.stoppedAt && job.startedAt && job.stoppedAt - job.startedAt],
    ["download", applied && ctx.clock.now() - downloading],
  ]);
  if (took) out.detail(took);
  if (target.env) await deleteObject(clients.s3, target.env).catch(() => undefined);
  return action === "cancel" ? EXIT.interrupted : exitCode(job, applied);
}

/** The fetch and apply stages: the results archive into a temporary file, then into dir; undefined when there is none. */
export async function bringResultsHome(ctx: BatchContext, target: FollowTarget, dir: string): Promise<Applied | undefined> {
  const { out, clients } = ctx;
  return withTempDir("results", async (tmp) => {
    const archivePath = join(tmp, "results.zip");
    const progress = startProgress(out, ctx.clock, "Downloading results", undefined);
    const found = await fetchArchive(clients.s3, target.results, archivePath, target.select, (done, total) => progress.update(done, total)).finally(() =>
      progress.finish(),
    );
    if (!found) {
      out.warn(
        `the job left no results at ${s3Url(target.results)}: its image may not run the nbatch agent (see docs/job-image/), it was stopped before the agent could upload, or they have expired`,
      );
      return undefined;
    }
    return applyResults({ archivePath, dir, runId: target.runId, baseline: target.baseline, select: target.select, out, maxBytes: ctx.settings.values.maxResultsBytes });
  });
}

/** The job's exit code; a job that failed without one, or results refused, make it 1. */
function exitCode(job: JobState, applied: Applied | undefined): number {
  const code = job.exitCode ?? (job.status === "SUCCEEDED" ? 0 : 1);
  const jobCode = job.status === "FAILED" && code === 0 ? 1 : code;
  return exitWithRefusals(jobCode, applied?.report.refused.length ? true : false);
}

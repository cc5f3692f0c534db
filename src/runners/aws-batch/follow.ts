import { existsSync } from "node:fs";
import { realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import { awsFailure, isCredentialsFailure } from "../../aws/errors.js";
import { deleteObject, s3Url, type S3Object } from "../../aws/s3.js";
import { EXIT, InterruptedError, UserError } from "../../errors.js";
import { applyResults, exitWithRefusals, resultLimits, type Applied } from "../../job/apply.js";
import { attemptStreams, summary, terminateJob, type JobState } from "../../job/batch.js";
import { rememberLogs } from "../../history.js";
import type { BatchContext } from "../../job/context.js";
import { underControl, whileFetching } from "../../job/control.js";
import { checkRoom, fetchArchive } from "../../job/fetch.js";
import type { FollowPrefs } from "../../job/request.js";
import { watchJob } from "../../job/watch.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { sweepStaleTemps, tempBeside } from "../../tree/temp-files.js";
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
  const control = underControl({
    signals: ctx.signals,
    out,
    clock: ctx.clock,
    detachOnInterrupt: prefs.detachOnInterrupt,
    jobId: target.jobId,
    cancelNow,
    cancel(why) {
      out.info(`Cancelling job ${target.jobId} (${why}); waiting for it to stop. Press Ctrl-C once more to exit at once`);
      terminateJob(clients.batch, target.jobId, ctx.env).catch((err) => out.warn(`could not cancel job ${target.jobId}: ${(err as Error).message}`));
    },
  });
  out.exitCode(0, { jobId: target.jobId });
  let job: JobState;
  try {
    job = await watchJob({
      ...clients,
      clock: ctx.clock,
      out,
      jobId: target.jobId,
      pollIntervalMs: ctx.settings.values.pollIntervalMs,
      stop: control.stop,
      showLogs: prefs.logs,
    });
  } catch (err) {
    throw lostTrack(err, target, prefs, out);
  } finally {
    control.dispose();
  }
  // Where the log is, for `nbatch logs` once Batch has forgotten the job.
  await rememberLogs(ctx.env, target.runId, job.logGroup, attemptStreams(job)).catch(() => undefined);
  if (control.action === "detach") return detach(target, prefs, out, "Detached");
  if (control.action === "exit") {
    out.info(`Stopped watching; job ${target.jobId} was asked to stop and may still be stopping`);
    return EXIT.interrupted;
  }
  out.info(summary(job));
  out.exitCode(0, { status: job.status, jobExitCode: job.exitCode });
  // The job has ended: no attempt will read the --env values again.
  if (target.env) await deleteObject(clients.s3, target.env).catch(() => undefined);
  const downloading = ctx.clock.now();
  const applied = prefs.download && target.dir ? await bringResultsHome(ctx, target, target.dir, prefs) : undefined;
  const took = stagesLine([
    ["upload", target.uploadMs],
    ["wait", job.startedAt && job.createdAt && job.startedAt - job.createdAt],
    ["run", job.stoppedAt && job.startedAt && job.stoppedAt - job.startedAt],
    ["download", applied && ctx.clock.now() - downloading],
  ]);
  if (took) out.detail(took);
  return control.action === "cancel" ? EXIT.interrupted : exitCode(job, applied);
}

/**
 * Watching failed for good (credentials that expired, a permission taken
 * away): the job is not touched, so this is a detach that says why, with the
 * command that picks the job up again once that is fixed.
 */
function lostTrack(err: unknown, target: FollowTarget, prefs: FollowPrefs, out: BatchContext["out"]): unknown {
  if (err instanceof InterruptedError) return err;
  const attach = attachCommand(target.jobId, target.dir, prefs);
  out.emit({ type: "detached", jobId: target.jobId, attach });
  const why = isCredentialsFailure(err) ? "AWS credentials expired" : whatFailed(err);
  const fix = isCredentialsFailure(err) ? "refresh them (e.g. `aws sso login`), then" : "once that is fixed,";
  return new UserError(
    `${why} while watching job ${target.jobId}; it goes on in AWS Batch and leaves its results at ${s3Url(target.results)}: ${fix} re-attach with: ${attach}`,
    { cause: err },
  );
}

/**
 * The fetch and apply stages: the results archive into a temporary file
 * beside the files it holds, then into dir; undefined when there is none.
 * Whatever goes wrong from here, the results stay in S3: the error says
 * where, and the command that brings them home.
 */
export async function bringResultsHome(ctx: BatchContext, target: FollowTarget, dir: string, prefs: FollowPrefs): Promise<Applied | undefined> {
  const { out, clients } = ctx;
  const interrupt = whileFetching(ctx.signals);
  // In dir, not $TMPDIR: the same filesystem as the files it becomes, its free space checked first.
  const archivePath = tempBeside(join(dir, "results.zip"));
  const progress = startProgress(out, ctx.clock, "Downloading results", undefined);
  try {
    // Archives of downloads killed earlier would count against the free space.
    await sweepStaleTemps(await realpath(dir), [""]);
    const found = await fetchArchive(clients.s3, target.results, archivePath, {
      want: target.select,
      signal: interrupt.signal,
      room: (bytes) => checkRoom(dir, bytes),
      maxEntries: ctx.settings.values.maxResultsEntries,
      onProgress: (done, total) => progress.update(done, total),
    }).finally(() => progress.finish());
    if (!found) {
      out.warn(
        `the job left no results at ${s3Url(target.results)}: its image may not run the nbatch agent (see docs/job-image/), it was stopped before the agent could upload, or they have expired`,
      );
      return undefined;
    }
    const limits = resultLimits(ctx.settings.values);
    return await applyResults({ archivePath, source: s3Url(target.results), dir, runId: target.runId, baseline: target.baseline, select: target.select, out, limits, signal: interrupt.signal });
  } catch (err) {
    const safe = `the job's results are safe at ${s3Url(target.results)}; bring them home with: ${attachCommand(target.jobId, dir, prefs)}`;
    if (interrupt.signal.aborted) {
      throw new InterruptedError(`Interrupted (${String(interrupt.signal.reason)}) while bringing the results home; nothing half-written is left, and ${safe}`);
    }
    throw new UserError(`${whatFailed(err, dir)}; ${safe}`, { cause: err });
  } finally {
    interrupt.dispose();
    await rm(archivePath, { force: true });
  }
}

/** A failure as the first half of a line that goes on with what to do: what failed, never advice to run the job again. */
function whatFailed(err: unknown, dir?: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return `no space left on the disk of ${dir ?? "the directory"}: free some space`;
  if (dir && code === "ENOENT" && !existsSync(dir)) return `the directory ${dir} no longer exists: make it again, or give another one`;
  if (isCredentialsFailure(err)) return "AWS credentials have expired or cannot be refreshed: refresh them (e.g. `aws sso login`)";
  if (err instanceof UserError) return err.message;
  const aws = awsFailure(err);
  if (aws) return aws;
  return code ? `the transfer broke off (${code}: ${(err as Error).message})` : ((err as Error)?.message ?? String(err));
}

/** The job's exit code; a job that failed without one, or results refused, make it 1. */
function exitCode(job: JobState, applied: Applied | undefined): number {
  const code = job.exitCode ?? (job.status === "SUCCEEDED" ? 0 : 1);
  const jobCode = job.status === "FAILED" && code === 0 ? 1 : code;
  return exitWithRefusals(jobCode, applied?.report.refused.length ? true : false);
}

import { join } from "node:path";
import type { AwsClients } from "../../aws/clients.js";
import { aws } from "../../aws/errors.js";
import { deleteObject, downloadToFile, s3Url, type S3Object } from "../../aws/s3.js";
import { downloadSelected } from "../../aws/s3-selective.js";
import type { Clock } from "../../clock.js";
import type { Settings } from "../../config/settings.js";
import { EXIT } from "../../errors.js";
import { shellQuote } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import type { Reporter } from "../../ui/reporter.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { withTempDir } from "../../tree/temp-files.js";
import type { Results } from "../../protocol.js";
import type { FollowPrefs } from "../../job/request.js";
import { applyResults, exitWithRefusals } from "../../job/apply.js";
import { controlJob, type ControlAction } from "../../job/control.js";
import { summary, terminateJob, type JobState } from "../../job/batch.js";
import { watchJob } from "../../job/watch.js";

export interface FollowDeps {
  settings: Settings;
  clients: AwsClients;
  reporter: Reporter;
  clock: Clock;
  signals: NodeJS.EventEmitter;
  stdinIsTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

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
}

/** The command that re-attaches to a job. */
function attachCommand(jobId: string, dir: string | undefined, prefs: FollowPrefs): string {
  return ["nbatch build", ...prefs.attachFlags, "--attach", jobId, ...(dir ? [shellQuote(dir)] : ["--no-download"])].join(" ");
}

export function detach(target: FollowTarget, prefs: FollowPrefs, reporter: Reporter, why: string): number {
  const attach = attachCommand(target.jobId, target.dir, prefs);
  reporter.info(`${why}; job ${target.jobId} goes on running in AWS Batch. Re-attach with:\n  ${attach}`);
  reporter.emit({ type: "detached", jobId: target.jobId, attach });
  return EXIT.ok;
}

/**
 * Watches a job to its end under the user's control (signals), then brings
 * the results home and returns the exit code.
 */
export async function followJob(target: FollowTarget, prefs: FollowPrefs, deps: FollowDeps, cancelNow = false): Promise<number> {
  const { reporter } = deps;
  const stop = new AbortController();
  let action: ControlAction | undefined;
  const cancel = (why: string) => {
    reporter.info(`Cancelling job ${target.jobId} (${why}); waiting for it to stop. Press Ctrl-C once more to exit at once`);
    terminateJob(deps.clients.batch, target.jobId, deps.env, deps.settings.aws.region).catch((err) => reporter.warn(`could not cancel job ${target.jobId}: ${(err as Error).message}`));
  };
  const control = controlJob({
    signals: deps.signals,
    reporter,
    clock: deps.clock,
    stdinIsTTY: deps.stdinIsTTY,
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
  let job: JobState;
  try {
    job = await watchJob({
      ...deps.clients,
      clock: deps.clock,
      reporter,
      jobId: target.jobId,
      pollIntervalMs: deps.settings.awsBatch.pollIntervalMs,
      stop: stop.signal,
      showLogs: prefs.logs,
    });
  } finally {
    control.dispose();
  }
  if (action === "detach") return detach(target, prefs, reporter, "Detached");
  if (action === "exit") {
    reporter.info(`Stopped watching; job ${target.jobId} was asked to stop and may still be stopping`);
    return finish(reporter, EXIT.interrupted, target.jobId);
  }
  reporter.info(summary(job));
  const download = prefs.download && target.dir ? (await downloadResults(deps, target, target.dir)).status : "ok";
  if (target.env) await deleteObject(deps.clients.s3, target.env).catch(() => undefined);
  const code = action === "cancel" ? EXIT.interrupted : exitCode(job, download);
  return finish(reporter, code, target.jobId, job);
}

function finish(reporter: Reporter, code: number, jobId: string, job?: JobState): number {
  reporter.emit({ type: "exit", code, jobId, status: job?.status, jobExitCode: job?.exitCode });
  return code;
}

export interface Downloaded {
  status: "ok" | "missing" | "refused";
  results?: Results;
}

/** Fetches the results archive and applies it to dir. */
export async function downloadResults(deps: FollowDeps, target: FollowTarget, dir: string): Promise<Downloaded> {
  const obj = target.results;
  return withTempDir("results", async (tmp) => {
    const archive = join(tmp, "results.zip");
    const progress = startProgress(deps.reporter.io, deps.clock, "Downloading results", undefined);
    const onProgress = (done: number, total?: number) => progress.update(done, total);
    const found = await aws({ action: "s3:GetObject", resource: s3Url(obj), region: deps.settings.aws.region }, async () => {
      // A selection may need only a few entries of a large archive: ranged GETs when they pay.
      const selected = target.select ? await downloadSelected(deps.clients.s3, obj, archive, target.select, onProgress) : "whole";
      return selected === "whole" ? downloadToFile(deps.clients.s3, obj, archive, onProgress) : selected === "done";
    }).finally(() => progress.finish());
    if (!found) {
      deps.reporter.warn(
        `the job left no results at ${s3Url(obj)}: its image may not run the nbatch agent (see docs/job-image/), it was stopped before the agent could upload, or they have expired`,
      );
      return { status: "missing" };
    }
    const { results, report } = await applyResults({
      archivePath: archive,
      dir,
      runId: target.runId,
      baseline: target.baseline,
      select: target.select,
      reporter: deps.reporter,
      maxBytes: deps.settings.maxResultsBytes,
    });
    return { status: report.refused.length ? "refused" : "ok", results };
  });
}

/** The job's exit code; a job that failed without one, or results refused, make it 1. */
function exitCode(job: JobState, download: Downloaded["status"]): number {
  const code = job.exitCode ?? (job.status === "SUCCEEDED" ? 0 : 1);
  const jobCode = job.status === "FAILED" && code === 0 ? 1 : code;
  return exitWithRefusals(jobCode, download === "refused");
}

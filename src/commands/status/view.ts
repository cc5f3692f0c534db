/** How the job commands show jobs: aligned text tables for people, one JSON object per job for scripts. */
import { displayPath, type Env } from "../../config/file.js";
import { isDone } from "../../job/batch.js";
import { whyFailed } from "../../job/reasons.js";
import { formatDuration, localIsoTime, shellQuote } from "../../ui/format.js";
import type { Output } from "../../ui/output.js";
import type { JobView } from "./lookup.js";

const FORGOTTEN = "forgotten by Batch";

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd());
}

/** 2026-11-21 14:03:07, in local time. */
export function localTime(ms: number | undefined): string {
  return ms === undefined ? "" : localIsoTime(ms).slice(0, 19).replace("T", " ");
}

const TASK_ORDER = ["SUCCEEDED", "FAILED", "RUNNING", "STARTING", "RUNNABLE", "PENDING", "SUBMITTED"];

/** A fan-out run's counts, as "3 SUCCEEDED, 1 FAILED, 6 RUNNING". */
export function taskCountsText(counts: Record<string, number>): string {
  return TASK_ORDER.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(", ");
}

export function statusText(v: JobView): string {
  const s = v.state;
  if (!s) return FORGOTTEN;
  if (v.tasks) return `${runStatus(v.tasks)} (${taskCountsText(v.tasks)})`;
  return s.maxAttempts > 1 && !isDone(s.status) ? `${s.status} (attempt ${s.attempt} of ${s.maxAttempts})` : s.status;
}

/** A fan-out run's status from its tasks': ended when they all have, RUNNING while any runs. */
function runStatus(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const ended = (counts.SUCCEEDED ?? 0) + (counts.FAILED ?? 0);
  if (ended === total) return counts.FAILED ? "FAILED" : "SUCCEEDED";
  if (counts.RUNNING || counts.STARTING) return "RUNNING";
  return counts.RUNNABLE ? "RUNNABLE" : "PENDING";
}

/** Why a job failed or waits, when Batch said: Batch's words, then what to do. */
export function reasonText(v: JobView): string {
  const s = v.state;
  if (!s) return "";
  if (s.status === "RUNNABLE") return s.statusReason ?? "";
  const why = s.status === "FAILED" ? whyFailed(s) : undefined;
  return why ? `${why.reason}${why.fix ? `; ${why.fix}` : ""}` : "";
}

export function exitText(v: JobView): string {
  return v.state?.exitCode === undefined ? "" : String(v.state.exitCode);
}

/** How long the job ran, or has been running. */
export function durationText(v: JobView, now: number): string {
  const s = v.state;
  if (!s?.startedAt) return "";
  return formatDuration((s.stoppedAt ?? now) - s.startedAt);
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The --json shape of a job, shared by status and ls; times are ISO 8601 UTC, status is null once Batch has forgotten the job. */
export function jobJson(v: JobView): Record<string, unknown> {
  const s = v.state;
  const r = v.record;
  return {
    jobId: v.id,
    runId: r?.runId,
    jobName: s?.name ?? r?.jobName,
    status: s ? (v.tasks ? runStatus(v.tasks) : s.status) : null,
    ...(v.tasks ? { tasks: v.tasks, lanes: r?.lanes ?? [v.id] } : {}),
    forgotten: !s,
    statusReason: s?.statusReason,
    reason: s && s.status === "FAILED" ? whyFailed(s)?.reason : undefined,
    fix: s && s.status === "FAILED" ? whyFailed(s)?.fix : undefined,
    exitCode: s?.exitCode,
    attempt: s?.attempt,
    attempts: s?.maxAttempts,
    region: v.region,
    queue: r?.queue,
    submittedAt: iso(r?.submittedAt ?? s?.createdAt),
    startedAt: iso(s?.startedAt),
    stoppedAt: iso(s?.stoppedAt),
    dir: r?.dir,
    command: r?.command,
    resultsUrl: r?.resultsUrl,
    logGroup: s?.logGroup,
    logStream: s?.logStreamName,
  };
}

/**
 * Batch forgets a job some days after it ends, but its results stay in S3:
 * say where, and how to bring them home.
 */
export function printForgotten(out: Output, views: readonly JobView[], env: Env): void {
  const forgotten = views.filter((v) => !v.state && v.record);
  if (!forgotten.length) return;
  const which = views.length === 1 ? "this job" : `${forgotten.length} of these jobs`;
  out.info(`Batch has forgotten ${which}; the results stay in S3 and can still be downloaded:`);
  for (const v of forgotten) {
    out.info(`  nbatch build --attach ${v.id} ${shellQuote(displayPath(v.record!.dir, env))}    # ${v.record!.resultsUrl}`);
  }
}

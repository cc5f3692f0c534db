/**
 * Batch's own words for why a job failed or waits, each with what to do.
 * The messages are the ones the AWS Batch user guide documents ("Jobs stuck
 * in a RUNNABLE status", "Job status reasons" and the container reasons
 * ECS reports); an unknown one is shown as Batch wrote it.
 */
import { formatDuration, formatMiB } from "../ui/format.js";
import type { Attempt, JobState } from "./batch.js";

export interface Why {
  /** What Batch said, shortened to the part people read. */
  reason: string;
  fix?: string;
}

/** An attempt ended on a reclaimed or lost host: Batch's "Host EC2 (instance i-…) terminated." */
const RECLAIMED = /^Host EC2 \(instance (i-[0-9a-f]+)\) terminated/;
/** Reasons that say the command simply exited: the exit code tells the rest. */
const PLAIN_EXIT = /^Essential container in task exited$/;

/** Why a job (its last attempt) failed; undefined when only its exit code says anything. */
export function whyFailed(job: JobState): Why | undefined {
  const last = job.attempts.at(-1);
  return whyEnded({ exitCode: job.exitCode, reason: job.containerReason ?? last?.reason, statusReason: last?.statusReason ?? job.statusReason }, job);
}

/** Why one attempt ended, for the line that announces the next. */
export function whyEnded(a: Attempt, job: Pick<JobState, "memoryMiB" | "image">): Why | undefined {
  const reason = a.reason ?? "";
  const status = a.statusReason ?? "";
  if (/^OutOfMemoryError/.test(reason)) {
    const had = job.memoryMiB ? ` (it had ${formatMiB(job.memoryMiB)})` : "";
    const more = job.memoryMiB ? `, e.g. --aws-batch-memory ${formatMiB(job.memoryMiB * 2).replace(" ", "")}` : "";
    return { reason: `${reason}${had}`, fix: `ask for more memory with --aws-batch-memory${more}` };
  }
  if (/^CannotPullContainerError/.test(reason)) {
    return { reason, fix: `check the image name${job.image ? ` (${job.image})` : ""} and that the job's execution role may pull it (ecr:GetAuthorizationToken, ecr:BatchGetImage)` };
  }
  if (/^CannotStartContainerError|^CannotInspectContainerError|^CannotCreateContainerError/.test(reason)) {
    return { reason, fix: "check the command (the agent runs as `nbatch agent -- <command>`: is nbatch in the image?) and the image (docs/job-image/)" };
  }
  const host = RECLAIMED.exec(status);
  if (host) return { reason: status, fix: `the instance ${host[1]} was reclaimed (a spot interruption) or lost: retry such attempts with --retries 2 --retry-on spot` };
  if (/^Job attempt duration exceeded timeout/.test(status)) {
    return { reason: status, fix: "let each attempt run longer with --timeout (e.g. --timeout 12h), or in the job definition's timeout" };
  }
  if (reason && !PLAIN_EXIT.test(reason)) return { reason };
  if (status && !PLAIN_EXIT.test(status)) return { reason: status };
  return undefined;
}

/** How an ended attempt is announced before the next one: "attempt 1 lost to a spot reclaim; attempt 2 of 3". */
export function attemptLine(ended: Attempt, number: number, job: JobState): string {
  const next = `attempt ${number + 1} of ${job.maxAttempts}`;
  if (RECLAIMED.test(ended.statusReason ?? "")) return `Attempt ${number} lost to a spot reclaim (${ended.statusReason}); ${next}`;
  const why = whyEnded(ended, job);
  const how = ended.exitCode !== undefined ? `exited ${ended.exitCode}` : "failed";
  return `Attempt ${number} ${how}${why ? ` (${why.reason})` : ""}; ${next}`;
}

/**
 * While a job waits in RUNNABLE, Batch says why in its statusReason when it
 * can tell: "<CATEGORY>:<REASON> - <message>". Each documented one has a fix.
 */
const RUNNABLE_FIXES: Record<string, string> = {
  "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT":
    "no compute environment of the queue has instances that large: ask for less (--aws-batch-cpus, --aws-batch-memory, --gpus) or add larger instance types (nbatch check-setup tells what fits)",
  "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE": "the job asks for more vCPUs than the compute environments' maxvCpus: ask for fewer, or raise maxvCpus",
  "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS": "Batch's service role lacks permissions it needs: ask your AWS administrator (docs/aws-setup.md)",
  "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": "AWS has no capacity for these instance types just now: wait, or allow more instance types or subnets in the compute environment",
};

export function runnableLine(statusReason: string): string {
  const code = /^([A-Z_]+:[A-Z_]+)/.exec(statusReason)?.[1];
  const fix = code && RUNNABLE_FIXES[code];
  return `Job RUNNABLE: ${statusReason}${fix ? `\n  ${fix}` : ""}`;
}

/** "waits up to 4 hours, then is cancelled", for check-setup's queue line. */
export function timeLimitText(action: { reason?: string; state?: string; maxTimeSeconds?: number; action?: string }): string {
  return `${action.state ?? "RUNNABLE"} for ${action.reason ?? "any reason"}: ${(action.action ?? "CANCEL").toLowerCase()} after ${formatDuration((action.maxTimeSeconds ?? 0) * 1000)}`;
}

import { hostname, userInfo } from "node:os";
import { formatDuration } from "../ui/format.js";
import { DescribeJobsCommand, TerminateJobCommand, type BatchClient, type JobDetail } from "@aws-sdk/client-batch";

export type Batch = Pick<BatchClient, "send">;

export const DEFAULT_LOG_GROUP = "/aws/batch/job";

/** What nbatch needs to know of a job, from one DescribeJobs answer. */
export interface JobState {
  id: string;
  name: string;
  status: string;
  statusReason?: string;
  exitCode?: number;
  logGroup: string;
  logStreamName?: string;
  /** 1-based number of the current (or last) attempt. */
  attempt: number;
  /** How many attempts the job may make (its retry strategy). */
  maxAttempts: number;
  /** Log streams of the attempts that have finished, in order. */
  attemptStreams: (string | undefined)[];
  createdAt?: number;
  startedAt?: number;
  stoppedAt?: number;
  tags: Record<string, string>;
  /** The vCPUs and memory the job asks for, as people read them: "8 vCPUs and 15360 MiB". */
  requested?: string;
}

export function isDone(status: string): boolean {
  return status === "SUCCEEDED" || status === "FAILED";
}

function toJobState(job: JobDetail): JobState {
  const options = job.container?.logConfiguration?.options;
  return {
    id: job.jobId!,
    name: job.jobName!,
    status: job.status!,
    statusReason: job.statusReason,
    exitCode: job.container?.exitCode,
    logGroup: (job.container?.logConfiguration?.logDriver === "awslogs" && options?.["awslogs-group"]) || DEFAULT_LOG_GROUP,
    logStreamName: job.container?.logStreamName,
    // Batch lists finished attempts only: while attempt N runs, N-1 are listed.
    attempt: isDone(job.status!) ? Math.max(1, job.attempts?.length ?? 0) : (job.attempts?.length ?? 0) + 1,
    maxAttempts: job.retryStrategy?.attempts ?? 1,
    attemptStreams: (job.attempts ?? []).map((a) => a.container?.logStreamName),
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    stoppedAt: job.stoppedAt,
    tags: job.tags ?? {},
    requested: requested(job),
  };
}

function requested(job: JobDetail): string | undefined {
  const req = new Map((job.container?.resourceRequirements ?? []).map((r) => [r.type, r.value]));
  const vcpus = req.get("VCPU") ?? job.container?.vcpus;
  const memory = req.get("MEMORY") ?? job.container?.memory;
  if (vcpus === undefined && memory === undefined) return undefined;
  return [vcpus !== undefined && `${vcpus} vCPUs`, memory !== undefined && `${memory} MiB of memory`].filter(Boolean).join(" and ");
}

const DESCRIBE_LIMIT = 100;

/** DescribeJobs for any number of ids, 100 a call; ids Batch has forgotten are absent. */
export async function describeJobs(batch: Batch, ids: readonly string[]): Promise<JobState[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += DESCRIBE_LIMIT) chunks.push(ids.slice(i, i + DESCRIBE_LIMIT));
  const answers = await Promise.all(chunks.map((jobs) => batch.send(new DescribeJobsCommand({ jobs }))));
  return answers.flatMap((a) => (a.jobs ?? []).map(toJobState));
}

export async function describeJob(batch: Batch, id: string): Promise<JobState | undefined> {
  return (await describeJobs(batch, [id]))[0];
}

/** The closing line: "Job SUCCEEDED after 3.2 minutes (exited 0)". */
export function summary(job: JobState): string {
  const took = job.startedAt && job.stoppedAt ? ` after ${formatDuration(job.stoppedAt - job.startedAt)}` : "";
  const how = job.exitCode !== undefined ? ` (exited ${job.exitCode})` : job.statusReason ? ` (${job.statusReason})` : "";
  return `Job ${job.status}${took}${how}`;
}

/** TerminateJob: cancels a job not yet started, stops a running one; the reason, which Batch shows, names who asked. */
export async function terminateJob(batch: Batch, jobId: string, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  await batch.send(new TerminateJobCommand({ jobId, reason: cancelReason(env) }));
}

/**
 * The log streams of a job's attempts, in order: those that ended, then the
 * running one's. An attempt that never started has none (undefined).
 */
export function attemptStreams(job: JobState): (string | undefined)[] {
  const streams = [...job.attemptStreams];
  const current = job.logStreamName;
  if (!isDone(job.status) && current && !streams.includes(current)) streams.push(current);
  return streams;
}

export function cancelReason(env: Readonly<Record<string, string | undefined>>): string {
  const user = env.USER || env.LOGNAME || safeUserName();
  return `Cancelled by nbatch (${user}@${hostname()})`;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

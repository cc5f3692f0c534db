import { hostname, userInfo } from "node:os";
import { formatDuration, printable } from "../ui/format.js";
import { whyFailed } from "./reasons.js";
import { DescribeJobsCommand, TerminateJobCommand, type BatchClient, type JobDetail } from "@aws-sdk/client-batch";

export type Batch = Pick<BatchClient, "send">;

export const DEFAULT_LOG_GROUP = "/aws/batch/job";

/** One attempt that has ended, as Batch reports it. */
export interface Attempt {
  exitCode?: number;
  /** The container's own reason: "OutOfMemoryError: Container killed due to memory usage". */
  reason?: string;
  /** The attempt's: "Essential container in task exited", "Host EC2 (instance i-…) terminated.". */
  statusReason?: string;
  logStream?: string;
}

/** What nbatch needs to know of a job, from one DescribeJobs answer. */
export interface JobState {
  id: string;
  name: string;
  status: string;
  statusReason?: string;
  exitCode?: number;
  /** The container's reason for the job's last (or current) attempt. */
  containerReason?: string;
  logGroup: string;
  logStreamName?: string;
  /** 1-based number of the current (or last) attempt. */
  attempt: number;
  /** How many attempts the job may make (its retry strategy). */
  maxAttempts: number;
  /** The attempts that have ended, in order. */
  attempts: Attempt[];
  /** Log streams of the attempts that have finished, in order. */
  attemptStreams: (string | undefined)[];
  createdAt?: number;
  startedAt?: number;
  stoppedAt?: number;
  tags: Record<string, string>;
  /** The vCPUs and memory the job asks for, as people read them: "8 vCPUs and 15360 MiB". */
  requested?: string;
  memoryMiB?: number;
  image?: string;
  /** A parent array job: how many children it has in each status. */
  statusSummary?: Record<string, number>;
}

export function isDone(status: string): boolean {
  return status === "SUCCEEDED" || status === "FAILED";
}

/**
 * The container nbatch's agent runs in: the job's own, or for a job
 * definition in the ecsProperties form, the essential container of its
 * task (the first, when several are).
 */
type Container = { exitCode?: number; reason?: string; logStreamName?: string; image?: string; resourceRequirements?: { type?: string; value?: string }[]; vcpus?: number; memory?: number; logConfiguration?: { logDriver?: string; options?: Record<string, string> } };

function mainContainer(from: { container?: Container; ecsProperties?: { taskProperties?: { containers?: (Container & { essential?: boolean })[] }[] }; taskProperties?: { containers?: (Container & { essential?: boolean })[] }[] }): Container | undefined {
  return from.container ?? essential((from.ecsProperties?.taskProperties ?? from.taskProperties)?.[0]?.containers);
}

/** Of a task's containers, the one nbatch's agent runs in: the first essential one (every container is, unless it says not). */
export function essential<C extends { essential?: boolean }>(containers: readonly C[] | undefined): C | undefined {
  return containers?.find((c) => c.essential !== false) ?? containers?.[0];
}

/** Batch's reasons quote whoever wrote them (TerminateJob's caller, the container runtime): safe terminal text. */
const said = (text: string | undefined) => (text === undefined ? undefined : printable(text));

export function toJobState(job: JobDetail): JobState {
  const container = mainContainer(job as Parameters<typeof mainContainer>[0]);
  const options = container?.logConfiguration?.options;
  const attempts: Attempt[] = (job.attempts ?? []).map((a) => {
    const c = mainContainer(a as Parameters<typeof mainContainer>[0]);
    return { exitCode: c?.exitCode, reason: said(c?.reason), statusReason: said(a.statusReason), logStream: c?.logStreamName };
  });
  const req = new Map((container?.resourceRequirements ?? []).map((r) => [r.type, r.value]));
  const memory = req.get("MEMORY") ?? container?.memory;
  return {
    id: job.jobId!,
    name: job.jobName!,
    status: job.status!,
    statusReason: said(job.statusReason),
    exitCode: container?.exitCode,
    containerReason: said(container?.reason),
    logGroup: (container?.logConfiguration?.logDriver === "awslogs" && options?.["awslogs-group"]) || DEFAULT_LOG_GROUP,
    logStreamName: container?.logStreamName,
    // Batch lists finished attempts only: while attempt N runs, N-1 are listed.
    attempt: isDone(job.status!) ? Math.max(1, attempts.length) : attempts.length + 1,
    maxAttempts: job.retryStrategy?.attempts ?? 1,
    attempts,
    attemptStreams: attempts.map((a) => a.logStream),
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    stoppedAt: job.stoppedAt,
    tags: job.tags ?? {},
    ...(job.arrayProperties?.statusSummary ? { statusSummary: job.arrayProperties.statusSummary } : {}),
    requested: requested(req.get("VCPU") ?? container?.vcpus, memory),
    ...(memory !== undefined ? { memoryMiB: Number(memory) } : {}),
    ...(container?.image ? { image: container.image } : {}),
  };
}

function requested(vcpus: string | number | undefined, memory: string | number | undefined): string | undefined {
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

/**
 * The closing line: "Job SUCCEEDED after 3.2 minutes (exited 0)", and for a
 * failure, why, in Batch's words, with what to do (job/reasons.ts).
 */
export function summary(job: JobState): string {
  const took = job.startedAt && job.stoppedAt ? ` after ${formatDuration(job.stoppedAt - job.startedAt)}` : "";
  const why = job.status === "FAILED" ? whyFailed(job) : undefined;
  const how = job.exitCode !== undefined ? ` (exited ${job.exitCode})` : !why && job.statusReason ? ` (${job.statusReason})` : "";
  return `Job ${job.status}${took}${how}${why ? `: ${why.reason}${why.fix ? `; ${why.fix}` : ""}` : ""}`;
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

function cancelReason(env: Readonly<Record<string, string | undefined>>): string {
  return `Cancelled by nbatch (${userName(env)}@${hostname()})`;
}

/** Who runs nbatch: $USER, $LOGNAME, else the account's name. */
export function userName(env: Readonly<Record<string, string | undefined>>): string {
  return env.USER || env.LOGNAME || safeUserName();
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { ContainerDetail, JobDetail, JobStatus } from "@aws-sdk/client-batch";
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { openLogStream } from "./executor-logs.js";
import { startContainer, type AttemptOutcome, type RunningContainer } from "./executor-process.js";
import { DEPENDENCY_FAILED, parentView, spawnChildren } from "./executor-arrays.js";
import { ClientException } from "./executor-registry.js";
import { OUT_OF_MEMORY, reclaimedReason, retries } from "./executor-rules.js";
import type { Watchdog } from "./executor-watchdog.js";

const EXITED = "Essential container in task exited";
const WAITING: JobStatus[] = ["SUBMITTED", "PENDING", "RUNNABLE"];

export interface JobRunnerOptions {
  stepDelayMs: number;
  /** Time in RUNNABLE before each attempt starts (default stepDelayMs): a queue without capacity. */
  runnableDelayMs?: number;
  killGraceMs: number;
  logs: Pick<CloudWatchLogsClient, "send">;
  watchdog: Pick<Watchdog, "watch" | "unwatch">;
  /** A fresh working directory and the full environment for one attempt. */
  prepare(job: JobDetail, attempt: number): Promise<{ cwd: string; env: Record<string, string>; user?: { uid: number; gid: number } }>;
}

interface Job {
  detail: JobDetail;
  /** A parent array job's children, in index order. */
  children?: Job[];
  container?: RunningContainer;
  stopReason?: string;
  /** How a test ended the running attempt: a spot reclaim, an out-of-memory kill. */
  ending?: { statusReason?: string; reason?: string };
}

/**
 * The container nbatch's agent runs in: the job's own, or for a job
 * definition in the ecsProperties form the essential container of its task
 * (AWS Batch API reference, TaskContainerProperties "essential").
 */
export function mainContainer(detail: JobDetail): ContainerDetail {
  if (detail.container) return detail.container;
  const containers = detail.ecsProperties?.taskProperties?.[0]?.containers ?? [];
  return (containers.find((c) => c.essential !== false) ?? containers[0]) as ContainerDetail;
}

/** Runs submitted jobs through Batch's states, each attempt as a local process. */
export class JobRunner {
  readonly jobs = new Map<string, Job>();
  private readonly holds = new Map<string, string>();
  private readonly abort = new AbortController();
  private readonly driving = new Set<Promise<void>>();

  constructor(private readonly opts: JobRunnerOptions) {}

  submit(detail: JobDetail): void {
    const job: Job = { detail };
    this.jobs.set(detail.jobId!, job);
    this.start(job, detail.arrayProperties ? this.spawn(job) : this.drive(job));
  }

  /** What DescribeJobs says of a job: a parent array job's status and statusSummary come from its children. */
  view(jobId: string): JobDetail | undefined {
    const job = this.jobs.get(jobId);
    if (!job?.children) return job?.detail;
    return parentView(job.detail, job.children.map((c) => c.detail));
  }

  /** A parent array job's children, for ListJobs with arrayJobId. */
  childrenOf(jobId: string): JobDetail[] {
    const job = this.jobs.get(jobId);
    if (!job?.children) throw new ClientException(`${jobId} is not an array job`);
    return job.children.map((c) => c.detail);
  }

  private start(job: Job, driving: Promise<void>): void {
    const settled = driving.catch((err) => {
      if (!this.abort.signal.aborted) console.error(`test executor: job ${job.detail.jobId} broke:`, err);
    });
    this.driving.add(settled);
    void settled.finally(() => this.driving.delete(settled));
  }

  /** The parent stays SUBMITTED for a step, then spawns its children, each driven as a job of its own. */
  private async spawn(parent: Job): Promise<void> {
    if (!(await this.step(parent)) || parent.detail.isCancelled) return;
    parent.children = spawnChildren(parent.detail, Date.now()).map((detail) => ({ detail }));
    for (const child of parent.children) {
      this.jobs.set(child.detail.jobId!, child);
      this.start(child, this.drive(child));
    }
  }

  /** TerminateJob; with cancelOnly (CancelJob), a job already STARTING or RUNNING is left alone, as in Batch. */
  stop(jobId: string | undefined, reason: string | undefined, cancelOnly: boolean): void {
    if (!reason || reason.length > 1024) throw new ClientException("reason is required, at most 1024 characters");
    const job = jobId === undefined ? undefined : this.jobs.get(jobId);
    if (!job) throw new ClientException(`Job ${jobId} not found`);
    if (job.detail.arrayProperties?.size !== undefined) return this.stopArray(job, reason, cancelOnly);
    const status = job.detail.status!;
    if (WAITING.includes(status)) {
      job.detail.isCancelled = true;
      return this.finish(job, "FAILED", reason);
    }
    if (cancelOnly || (status !== "STARTING" && status !== "RUNNING")) return;
    job.detail.isTerminated = true;
    job.stopReason = reason;
    if (job.container) job.container.stop(this.opts.killGraceMs);
    else this.finish(job, "FAILED", reason);
  }

  /**
   * CancelJob or TerminateJob on a parent array job reaches its children:
   * "When you try to cancel an array parent job in PENDING, Batch attempts
   * to cancel all child jobs. The array parent job is canceled when all
   * child jobs are completed" (AWS Batch API reference, CancelJob);
   * TerminateJob also stops the children that are STARTING or RUNNING
   * ("Jobs that are in the STARTING or RUNNING state are terminated", API
   * reference, TerminateJob).
   */
  private stopArray(parent: Job, reason: string, cancelOnly: boolean): void {
    if (cancelOnly) parent.detail.isCancelled = true;
    else parent.detail.isTerminated = true;
    parent.detail.statusReason = reason;
    if (!parent.children) return this.finish(parent, "FAILED", reason);
    for (const child of parent.children) this.stop(child.detail.jobId, reason, cancelOnly);
  }

  /**
   * The instance under a running job goes away, as a spot interruption takes
   * it: the container gets SIGTERM, then SIGKILL after the grace period, and
   * the attempt ends as Batch reports a lost host.
   */
  reclaim(jobId: string): void {
    const job = this.running(jobId);
    job.ending = { statusReason: reclaimedReason() };
    job.container!.stop(this.opts.killGraceMs);
  }

  /** The running attempt uses more memory than it has: the kernel kills it at once (exit 137) and ECS says why. */
  outOfMemory(jobId: string): void {
    const job = this.running(jobId);
    job.ending = { reason: OUT_OF_MEMORY };
    job.container!.kill();
  }

  /**
   * Jobs of the queue stay RUNNABLE with this statusReason, as Batch keeps a
   * job it cannot place and says why (AWS Batch user guide, "Jobs stuck in a
   * RUNNABLE status"); undefined lets them go.
   */
  hold(queueArn: string, statusReason: string | undefined): void {
    if (statusReason === undefined) this.holds.delete(queueArn);
    else this.holds.set(queueArn, statusReason);
  }

  private running(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job?.container) throw new Error(`test executor: job ${jobId} is not running`);
    return job;
  }

  /** Kills every job process and waits for the jobs to settle. */
  async close(): Promise<void> {
    this.abort.abort();
    for (const job of this.jobs.values()) job.container?.kill();
    await Promise.all(this.driving);
  }

  private async drive(job: Job): Promise<void> {
    const maxAttempts = job.detail.retryStrategy?.attempts ?? 1;
    // An array child starts in PENDING (executor-arrays.ts).
    for (const status of job.detail.status === "PENDING" ? [] : (["PENDING"] as const)) {
      if (!(await this.step(job))) return;
      job.detail.status = status;
    }
    if (!(await this.waitForDependencies(job))) return;
    if (!(await this.step(job))) return;
    job.detail.status = "RUNNABLE";
    for (let attempt = 1; ; attempt++) {
      if (!(await this.step(job, this.opts.runnableDelayMs))) return;
      if (!(await this.waitWhileHeld(job))) return;
      const outcome = await this.runAttempt(job, attempt);
      if (!outcome) return;
      const ended = job.detail.attempts!.at(-1)!;
      // A terminated job fails even if its command exits 0 on SIGTERM; so does an attempt whose host was lost.
      const failed = outcome.exitCode !== 0 || job.stopReason !== undefined || job.ending !== undefined;
      job.ending = undefined;
      const again = retries(job.detail.retryStrategy?.evaluateOnExit, { exitCode: outcome.exitCode, reason: mainOf(ended)?.reason, statusReason: ended.statusReason });
      // TerminateJob ends the job whatever its retry strategy (AWS Batch API reference, TerminateJob).
      if (failed && attempt < maxAttempts && !job.stopReason && again) {
        job.detail.status = "RUNNABLE";
        continue;
      }
      return this.finish(job, failed ? "FAILED" : "SUCCEEDED", ended.statusReason ?? EXITED);
    }
  }

  /** PENDING until the jobs it depends on succeed; FAILED as soon as one fails (executor-arrays.ts). */
  private async waitForDependencies(job: Job): Promise<boolean> {
    for (const { jobId } of job.detail.dependsOn ?? []) {
      for (;;) {
        const status = this.jobs.get(jobId!)?.detail.status;
        if (status === "SUCCEEDED") break;
        if (status === "FAILED") {
          this.finish(job, "FAILED", DEPENDENCY_FAILED);
          return false;
        }
        if (!(await this.step(job, 20))) return false;
      }
    }
    return true;
  }

  /** While the job's queue holds its jobs: RUNNABLE with the hold's reason; false when the job was stopped meanwhile. */
  private async waitWhileHeld(job: Job): Promise<boolean> {
    while (this.holds.has(job.detail.jobQueue!)) {
      job.detail.statusReason = this.holds.get(job.detail.jobQueue!);
      if (!(await this.step(job, 20))) return false;
    }
    job.detail.statusReason = undefined;
    return true;
  }

  /** One attempt from STARTING to its end; undefined when the job was stopped before it ran. */
  private async runAttempt(job: Job, attempt: number): Promise<AttemptOutcome | undefined> {
    const detail = job.detail;
    const container = mainContainer(detail);
    const definitionName = detail.jobDefinition!.replace(/^.*\//, "").replace(/:\d+$/, "");
    const logStreamName = `${definitionName}/default/${randomBytes(16).toString("hex")}`;
    detail.status = "STARTING";
    Object.assign(container, { logStreamName, exitCode: undefined, reason: undefined });
    if (!(await this.step(job))) return undefined;
    const { cwd, env, user } = await this.opts.prepare(detail, attempt);
    const logs = await openLogStream(this.opts.logs, logGroupOf(detail), logStreamName);
    if (this.isOver(job)) {
      await logs.close();
      return undefined;
    }
    let startedAt: number | undefined;
    job.container = startContainer({
      command: container.command ?? [],
      env,
      cwd,
      user,
      logs,
      watchdog: this.opts.watchdog,
      onStart: () => Object.assign(detail, { status: "RUNNING", startedAt: (startedAt = Date.now()) }),
    });
    const outcome = await job.container.outcome;
    job.container = undefined;
    const stoppedAt = Date.now();
    const reason = job.ending?.reason ?? outcome.cannotStart;
    Object.assign(container, { exitCode: outcome.exitCode, reason });
    const ended = { exitCode: outcome.exitCode, reason, logStreamName };
    detail.attempts!.push({
      // An ecsProperties job reports its attempts' containers per task (AWS Batch API reference, AttemptDetail taskProperties).
      ...(detail.container ? { container: ended } : { taskProperties: [{ containers: [{ ...ended, name: (container as { name?: string }).name }] }] }),
      startedAt,
      stoppedAt,
      statusReason: job.stopReason ?? job.ending?.statusReason ?? outcome.cannotStart ?? EXITED,
    });
    return outcome;
  }

  /** Waits one scheduling step; false when the job was stopped meanwhile. */
  private async step(job: Job, ms = this.opts.stepDelayMs): Promise<boolean> {
    await delay(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
    return !this.isOver(job);
  }

  private isOver(job: Job): boolean {
    return this.abort.signal.aborted || job.detail.status === "FAILED" || job.detail.status === "SUCCEEDED";
  }

  private finish(job: Job, status: "FAILED" | "SUCCEEDED", statusReason: string): void {
    Object.assign(job.detail, { status, statusReason, stoppedAt: Date.now() });
  }
}

/** An ended attempt's container, in either form. */
function mainOf(a: NonNullable<JobDetail["attempts"]>[number]): { reason?: string } | undefined {
  return a.container ?? a.taskProperties?.[0]?.containers?.[0];
}

/** The awslogs-group option of the job's log configuration, else Batch's default group. */
export function logGroupOf(detail: JobDetail): string {
  const config = mainContainer(detail).logConfiguration;
  return (config?.logDriver === "awslogs" && config.options?.["awslogs-group"]) || "/aws/batch/job";
}

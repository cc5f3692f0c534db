/**
 * Array jobs as AWS Batch runs them, each rule from the AWS Batch
 * documentation named beside it: the children, the parent's status and
 * statusSummary derived from them, SEQUENTIAL dependencies, and ListJobs
 * of an array's children.
 */
import type { JobDetail, JobStatus, JobSummary } from "@aws-sdk/client-batch";
import { ClientException } from "./executor-registry.js";

/** "you specify an array size (between 2 and 10,000)" (AWS Batch user guide, "Array jobs"). */
export function checkArraySize(size: unknown): number | undefined {
  if (size === undefined) return undefined;
  if (!Number.isInteger(size) || (size as number) < 2 || (size as number) > 10_000) {
    throw new ClientException(`arrayProperties.size must be an integer from 2 to 10,000, got ${String(size)}`);
  }
  return size as number;
}

/**
 * The children of a parent array job: "the array index for the child job is
 * appended to the end of the parent ID, such as example_job_ID:0" (AWS Batch
 * user guide, "Array jobs"). A child is created in PENDING: "For array child
 * jobs, this is when the child job was spawned by its parent and entered the
 * PENDING state" (AWS Batch API reference, JobDetail createdAt). With a
 * SEQUENTIAL dependency "each child array job completes sequentially,
 * starting at index 0" (user guide, "Job dependencies"): child i depends on
 * child i-1.
 */
export function spawnChildren(parent: JobDetail, now: number): JobDetail[] {
  const size = parent.arrayProperties!.size!;
  const sequential = (parent.dependsOn ?? []).some((d) => d.type === "SEQUENTIAL" && !d.jobId);
  return Array.from({ length: size }, (_, index) => {
    const jobId = `${parent.jobId}:${index}`;
    const child: JobDetail = structuredClone({ ...parent, arrayProperties: undefined, dependsOn: undefined });
    return {
      ...child,
      jobId,
      jobArn: `${parent.jobArn}:${index}`,
      status: "PENDING",
      createdAt: now,
      attempts: [],
      arrayProperties: { index },
      dependsOn: sequential && index > 0 ? [{ jobId: `${parent.jobId}:${index - 1}`, type: "SEQUENTIAL" }] : [],
    };
  });
}

const DONE: readonly string[] = ["SUCCEEDED", "FAILED"];

/**
 * A parent's view, from its children: "A summary of the number of array job
 * children in each available job status" (API reference,
 * ArrayPropertiesDetail statusSummary). "The parent array job can enter a
 * SUBMITTED, PENDING, FAILED, or SUCCEEDED status. An array parent job is
 * updated to PENDING when any child job is updated to RUNNABLE" (user guide,
 * "Array jobs"); it ends once every child has, SUCCEEDED when they all did,
 * else FAILED.
 */
export function parentView(parent: JobDetail, children: readonly JobDetail[]): JobDetail {
  const statusSummary: Record<string, number> = {};
  for (const c of children) statusSummary[c.status!] = (statusSummary[c.status!] ?? 0) + 1;
  const ended = children.length > 0 && children.every((c) => DONE.includes(c.status!));
  const waitedOrRan = children.some((c) => c.status !== "PENDING");
  const status: JobStatus = ended ? (children.every((c) => c.status === "SUCCEEDED") ? "SUCCEEDED" : "FAILED") : waitedOrRan ? "PENDING" : parent.status!;
  if (ended) parent.stoppedAt ??= Math.max(...children.map((c) => c.stoppedAt ?? 0));
  if (ended && !parent.statusReason) parent.statusReason = status === "SUCCEEDED" ? "All child jobs succeeded" : "One or more child jobs failed";
  parent.status = status;
  return { ...parent, arrayProperties: { size: parent.arrayProperties!.size, statusSummary } };
}

/**
 * "If any of the job dependencies fail, the dependent job automatically
 * transitions from PENDING to FAILED" (user guide, "Job dependencies"): the
 * reason a dependent child gives then.
 */
export const DEPENDENCY_FAILED = "Dependent Job failed";

/** The most ListJobs returns in one page: "This value can be between 1 and 100" (API reference, ListJobs maxResults). */
const PAGE_MAX = 100;

/**
 * ListJobs with arrayJobId: "Specifying an array job ID with this parameter
 * lists all child jobs from within the specified array"; "If you don't
 * specify a status, only RUNNING jobs are returned" (API reference,
 * ListJobs). Pages by maxResults and nextToken.
 */
export function listChildren(children: readonly JobDetail[], body: { jobStatus?: string; maxResults?: number; nextToken?: string }): { jobSummaryList: JobSummary[]; nextToken?: string } {
  const max = body.maxResults ?? PAGE_MAX;
  if (!Number.isInteger(max) || max < 1 || max > PAGE_MAX) throw new ClientException("maxResults must be between 1 and 100");
  const status = body.jobStatus ?? "RUNNING";
  const matching = children.filter((c) => c.status === status);
  const from = body.nextToken === undefined ? 0 : Number(Buffer.from(body.nextToken, "base64url").toString());
  if (!Number.isInteger(from) || from < 0) throw new ClientException("nextToken is not valid");
  const page = matching.slice(from, from + max).map(summary);
  return { jobSummaryList: page, ...(from + max < matching.length ? { nextToken: Buffer.from(String(from + max)).toString("base64url") } : {}) };
}

/** JobSummary: what ListJobs tells of a job (API reference, JobSummary), an array child's index included. */
export function summary(job: JobDetail): JobSummary {
  return {
    jobArn: job.jobArn,
    jobId: job.jobId,
    jobName: job.jobName,
    createdAt: job.createdAt,
    status: job.status,
    statusReason: job.statusReason,
    startedAt: job.startedAt,
    stoppedAt: job.stoppedAt,
    container: job.container && { exitCode: job.container.exitCode, reason: job.container.reason },
    jobDefinition: job.jobDefinition,
    ...(job.arrayProperties ? { arrayProperties: { index: job.arrayProperties.index, size: job.arrayProperties.size } } : {}),
  };
}

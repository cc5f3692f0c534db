/**
 * A fan-out run submitted earlier, found again from its lanes' job ids:
 * where each lane's children are in the task list (their environment says
 * it), the task list itself, and where the run's objects are. Used by
 * --attach, --rerun-failed, status, logs and cancel.
 */
import { DescribeJobsCommand, type JobDetail } from "@aws-sdk/client-batch";
import { getText, parseS3Url, type S3, type S3Object } from "../../aws/s3.js";
import { UserError } from "../../errors.js";
import { INDEX_TOKEN, JOB_ENV, parseTasks, type Task } from "../../protocol.js";
import type { RunRecord } from "../../history.js";
import { essential, type Batch } from "../batch.js";
import { childOf, type Lane } from "./lanes.js";

export interface FanoutRun {
  runId: string;
  lanes: Lane[];
  /** By position. */
  tasks: Task[];
  inputs: S3Object;
  env?: S3Object;
  resultsOf(index: number): S3Object;
  /** The lanes' parents as Batch describes them. */
  parents: JobDetail[];
}

/** The environment nbatch gave a job, in either form of job definition. */
export function jobEnvironment(job: JobDetail): Map<string, string | undefined> {
  const container = job.container ?? essential(job.ecsProperties?.taskProperties?.[0]?.containers);
  return new Map((container?.environment ?? []).map((e) => [e.name!, e.value]));
}

/** Whether a job is (a lane of) a fan-out run. */
export function isFanout(job: JobDetail): boolean {
  return jobEnvironment(job).has(JOB_ENV.tasksUrl);
}

export async function lookupFanout(batch: Batch, s3: S3, laneIds: readonly string[]): Promise<FanoutRun> {
  const parents: JobDetail[] = [];
  for (let i = 0; i < laneIds.length; i += 100) parents.push(...((await batch.send(new DescribeJobsCommand({ jobs: laneIds.slice(i, i + 100) }))).jobs ?? []));
  const missing = laneIds.filter((id) => !parents.some((p) => p.jobId === id));
  if (missing.length) throw new UserError(`Batch no longer knows ${missing.join(", ")}, of the same run: it forgets jobs some days after they end`);
  const envs = parents.map(jobEnvironment);
  const need = (env: Map<string, string | undefined>, name: string, job: JobDetail) => env.get(name) ?? fail(`job ${job.jobId} was not submitted by nbatch build (it has no ${name})`);
  const first = envs[0]!;
  const tasksUrl = need(first, JOB_ENV.tasksUrl, parents[0]!);
  const lanes: Lane[] = parents.map((p, i) => ({
    jobId: p.jobId!,
    offset: Number(envs[i]!.get(JOB_ENV.taskOffset) ?? 0),
    stride: Number(envs[i]!.get(JOB_ENV.taskStride) ?? 1),
    size: p.arrayProperties?.size ?? 1,
  }));
  const text = await getText(s3, parseS3Url(tasksUrl));
  if (text === undefined) throw new UserError(`the task list ${tasksUrl} of this run is gone (deleted, or expired by the bucket's lifecycle rule)`);
  const tasks = parseTasks(text, `the task list ${tasksUrl}`);
  const template = need(first, JOB_ENV.resultsUrl, parents[0]!);
  const envUrl = first.get(JOB_ENV.envUrl);
  return {
    runId: need(first, JOB_ENV.runId, parents[0]!),
    lanes,
    tasks,
    inputs: parseS3Url(need(first, JOB_ENV.inputsUrl, parents[0]!)),
    ...(envUrl ? { env: parseS3Url(envUrl) } : {}),
    resultsOf: (index) => parseS3Url(template.replaceAll(INDEX_TOKEN, String(index))),
    parents,
  };
}

/** The Batch job id of a task (by its index) of a run. */
export function childJobId(run: Pick<FanoutRun, "lanes" | "tasks">, index: number): string {
  const position = run.tasks.findIndex((t) => t.index === index);
  if (position < 0) throw new UserError(`the run has no task ${index} (its tasks are ${run.tasks[0]?.index} to ${run.tasks.at(-1)?.index})`);
  return childOf(run.lanes, position).jobId;
}

/**
 * The child job of task `index` of a recorded run, from the history alone
 * when its tasks are 0 to n-1 in order (a first run's), else from its task
 * list in S3 (a rerun's).
 */
export async function taskJobId(record: Pick<RunRecord, "lanes" | "tasks" | "rerunOf" | "resultsUrl">, index: number, s3: S3): Promise<string> {
  const ids = record.lanes!;
  const total = record.tasks ?? 0;
  const lanes = ids.map((jobId, l) => ({ jobId, offset: l, stride: ids.length, size: Math.ceil((total - l) / ids.length) }));
  let tasks: Task[] = Array.from({ length: total }, (_, i) => ({ index: i }));
  if (record.rerunOf) {
    const url = record.resultsUrl.replace(/tasks\/\{index\}\/results\.zip$/, "tasks.json");
    const text = await getText(s3, parseS3Url(url));
    if (text === undefined) throw new UserError(`the task list ${url} of this run is gone (deleted, or expired by the bucket's lifecycle rule)`);
    tasks = parseTasks(text, `the task list ${url}`);
  }
  return childJobId({ lanes, tasks }, index);
}

function fail(message: string): never {
  throw new UserError(message);
}

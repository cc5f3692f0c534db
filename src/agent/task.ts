/**
 * Fan-out, on the job side: which task of the run this child is, from the
 * run's task list and where in it the child's array starts and steps
 * (docs/protocol.md, "Fan-out"). The command then sees its own task index
 * where Batch's array index would be, so a script written for Batch still
 * works when lanes or a rerun number the children otherwise.
 */
import { UserError } from "../errors.js";
import { ARRAY_INDEX_ENV, INDEX_TOKEN, JOB_ENV, parseTasks, TASK_ENV, type Task } from "../protocol.js";
import type { Store } from "./store.js";

export interface TaskPlan {
  /** Where this job's results go, and its log's copy (NBATCH_LOG_URL, if set). */
  resultsUrl: string;
  logUrl?: string;
  /** The command, `{}` replaced by the item (or the index, with --array). */
  command: string[];
  /** What the command sees besides the job's environment. */
  env: Record<string, string>;
  /** Undefined for a job that is no fan-out task. */
  task?: Task;
}

type Env = Readonly<Record<string, string | undefined>>;

export async function resolveTask(env: Env, store: Store, command: string[], resultsUrl: string): Promise<TaskPlan> {
  const url = env[JOB_ENV.tasksUrl];
  const logUrl = env[JOB_ENV.logUrl] || undefined;
  if (!url) return { resultsUrl, logUrl, command, env: {} };
  const text = await store.readText(url);
  if (text === undefined) throw new UserError(`the run's task list ${url} is not there: it was deleted or has expired`);
  const tasks = parseTasks(text, `the task list ${url}`);
  const position = whole(env, JOB_ENV.taskOffset, 0) + whole(env, ARRAY_INDEX_ENV, 0) * whole(env, JOB_ENV.taskStride, 1);
  const task = tasks[position];
  if (!task) throw new UserError(`this child is task ${position} of the list ${url}, which has ${tasks.length}: the job was not submitted by this nbatch`);
  const word = task.item ?? String(task.index);
  return {
    resultsUrl: resultsUrl.replaceAll(INDEX_TOKEN, String(task.index)),
    logUrl: logUrl?.replaceAll(INDEX_TOKEN, String(task.index)),
    command: command.map((arg) => arg.replaceAll("{}", word)),
    env: { [TASK_ENV.index]: String(task.index), [ARRAY_INDEX_ENV]: String(task.index), ...(task.item !== undefined ? { [TASK_ENV.item]: task.item } : {}) },
    task,
  };
}

function whole(env: Env, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  if (!/^\d+$/.test(text)) throw new UserError(`${name}=${text} is not a whole number: the job was not submitted by this nbatch`);
  return Number(text);
}

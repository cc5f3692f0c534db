/**
 * The submit stage of a fan-out run: the --env values and the task list go
 * up, then one SubmitJob per lane. If any of it fails (or Ctrl-C comes
 * first), the lanes already submitted are cancelled and the objects
 * deleted: nothing is left running or lying in the bucket.
 */
import { SubmitJobCommand, type SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { deleteObject, putText, type S3Object } from "../../aws/s3.js";
import type { Task } from "../../protocol.js";
import { terminateJob } from "../batch.js";
import type { BatchContext } from "../context.js";
import { budgeted, RateBudget } from "./budget.js";
import { laneInput, type Lane, type LaneShape } from "./lanes.js";

export interface FanoutSubmission {
  input: SubmitJobCommandInput;
  lanes: LaneShape[];
  sequential: boolean;
  tasks: Task[];
  tasksObj: S3Object;
  tasksUrl: string;
  env?: { obj: S3Object; values: Record<string, string> };
}

/** SubmitJob calls per second: Batch allows an account 50 in all (AWS Batch user guide, "AWS Batch service quotas"). */
const SUBMITS_PER_SECOND = 10;

export async function submitLanes(ctx: BatchContext, s: FanoutSubmission, interrupted: () => Error | undefined): Promise<Lane[]> {
  const { s3 } = ctx.clients;
  const batch = budgeted(ctx.clients.batch, new RateBudget(SUBMITS_PER_SECOND, ctx.clock));
  const submitted: Lane[] = [];
  const check = () => {
    const stop = interrupted();
    if (stop) throw stop;
  };
  check();
  try {
    if (s.env) await putText(s3, s.env.obj, JSON.stringify(s.env.values));
    await putText(s3, s.tasksObj, JSON.stringify(s.tasks));
    for (const lane of s.lanes) {
      check();
      const { jobId } = await batch.send(new SubmitJobCommand(laneInput(s.input, lane, s.sequential, s.tasksUrl)));
      submitted.push({ ...lane, jobId: jobId! });
    }
    return submitted;
  } catch (err) {
    await Promise.all(submitted.map((l) => terminateJob(batch, l.jobId, ctx.env).catch(() => undefined)));
    // With lanes still running (a cancel that failed) the task list must stay: they read it.
    if (!submitted.length) await deleteObject(s3, s.tasksObj).catch(() => undefined);
    if (s.env) await deleteObject(s3, s.env.obj).catch(() => undefined);
    throw err;
  }
}

import { describeJob, isDone, summary, terminateJob, type JobState } from "../../job/batch.js";
import type { CommandContext } from "../context.js";
import { describeOne, withJobSession, type AwsFlags, type JobSession, type JobView } from "../status/lookup.js";

export interface CancelFlags extends AwsFlags {
  wait?: boolean;
}

const WAITING = new Set(["SUBMITTED", "PENDING", "RUNNABLE"]);

/**
 * `nbatch cancel <job-id>`: TerminateJob, which cancels a job that has not
 * started and stops one that has (its agent still uploads partial results).
 */
export async function cancelRun(id: string, flags: CancelFlags, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  return withJobSession(flags, ctx, async (session) => {
    const view = await describeOne(session, id);
    const job = view.state;
    if (!job) {
      out.info(`Job ${view.id} ended long ago (Batch has forgotten it); nothing to cancel`);
      return 0;
    }
    if (isDone(job.status)) {
      out.info(`Job ${job.id} has already ${job.status}; nothing to cancel`);
      return 0;
    }
    // A fan-out run: TerminateJob on each lane's array job ends every child of it.
    const batch = session.clients(view.region, view.profile).batch;
    for (const id of view.record?.lanes ?? [job.id]) await terminateJob(batch, id, ctx.env);
    if (view.tasks) {
      out.info(`Cancelling the ${Object.values(view.tasks).reduce((a, b) => a + b, 0)} tasks of run ${view.record?.runId ?? job.id}: those waiting are cancelled, those running stopped (each agent still uploads what its command made)`);
      if (!flags.wait) return 0;
      // Every lane has stopped, not only the first.
      const lanes = view.record?.lanes ?? [job.id];
      const ended = await Promise.all(lanes.map(async (id) => waitUntilDone(session, view, (await describeJob(batch, id)) ?? job, ctx)));
      out.info(summary(ended[0]!));
      return 0;
    }
    out.info(
      WAITING.has(job.status)
        ? `Cancelled job ${job.id} (it was ${job.status}, not yet started)`
        : `Stopping job ${job.id} (it was ${job.status}); its command gets SIGTERM and the agent uploads what it made so far`,
    );
    if (!flags.wait) return 0;
    out.info(summary(await waitUntilDone(session, view, job, ctx)));
    return 0;
  });
}

async function waitUntilDone(session: JobSession, { region, profile }: JobView, job: JobState, ctx: CommandContext): Promise<JobState> {
  const batch = session.clients(region, profile).batch;
  let state = job;
  while (!isDone(state.status)) {
    await ctx.clock.sleep(session.settings.values.pollIntervalMs);
    state = (await describeJob(batch, job.id)) ?? state;
  }
  return state;
}

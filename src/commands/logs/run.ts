import { displayPath } from "../../config/file.js";
import { UserError } from "../../errors.js";
import { attemptStreams, isDone, summary } from "../../job/batch.js";
import { LogTail } from "../../job/tail.js";
import { watchJob } from "../../job/watch.js";
import { logLine } from "../../ui/output.js";
import type { CommandContext } from "../context.js";
import { describeOne, withJobSession, type AwsFlags, type JobView } from "../status/lookup.js";

export interface LogsFlags extends AwsFlags {
  follow?: boolean;
}

/** `nbatch logs <job-id> [--follow]`: the job's whole log, every attempt, then optionally the live tail. */
export async function logsRun(id: string, flags: LogsFlags, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  return withJobSession(flags, ctx, async (session) => {
    const view = await describeOne(session, id);
    const job = view.state ?? forgotten(view, ctx);
    const clients = session.clients(view.region, view.profile);
    if (flags.follow && !isDone(job.status)) {
      const final = await watchJob({
        batch: clients.batch,
        logs: clients.logs,
        clock: ctx.clock,
        out,
        jobId: job.id,
        pollIntervalMs: session.settings.values.pollIntervalMs,
        stop: new AbortController().signal,
        showLogs: true,
      });
      out.info(summary(final));
      return 0;
    }
    const streams = attemptStreams(job);
    if (!streams.length) out.info(`Job ${job.id} is ${job.status} and has no log yet`);
    for (const [i, stream] of streams.entries()) {
      if (job.maxAttempts > 1 || streams.length > 1) out.info(`Log of attempt ${i + 1} of ${Math.max(job.maxAttempts, streams.length)}:`);
      if (!stream) out.info(`(attempt ${i + 1} left no log: it never started)`);
      else await new LogTail({ logs: clients.logs, group: job.logGroup, stream, clock: ctx.clock, onEvent: (e) => out.out(logLine(e.timestamp, e.message)) }).readToEnd();
    }
    out.info(isDone(job.status) ? summary(job) : `Job ${job.id} is ${job.status}; \`nbatch logs --follow ${job.id}\` keeps tailing it`);
    return 0;
  });
}

function forgotten(view: JobView, ctx: CommandContext): never {
  const r = view.record!;
  throw new UserError(
    `Batch has forgotten job ${view.id}, and with it where its log was; its results are still at ${r.resultsUrl}: nbatch build --attach ${view.id} ${displayPath(r.dir, ctx.env)}`,
  );
}

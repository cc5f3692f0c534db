import { aws } from "../../aws/errors.js";
import { realClock } from "../../clock.js";
import { displayPath } from "../../config/file.js";
import { UserError } from "../../errors.js";
import { isDone, summary, type JobState } from "../../job/batch.js";
import { LogTail, type Logs } from "../../job/tail.js";
import { watchJob } from "../../job/watch.js";
import type { IO } from "../../ui/io.js";
import { createReporter, logLine } from "../../ui/reporter.js";
import type { CommandContext } from "../context.js";
import { describeOne, withJobSession, type AwsFlags, type JobView } from "../status/lookup.js";

export interface LogsFlags extends AwsFlags {
  follow?: boolean;
}

/** `nbatch logs <job-id> [--follow]`: the job's whole log, every attempt, then optionally the live tail. */
export async function logsRun(id: string, flags: LogsFlags, ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  return withJobSession(flags, ctx, async (session) => {
    const view = await describeOne(session, id);
    const job = view.state ?? forgotten(view, ctx);
    const clients = session.clients(view.region, view.profile);
    if (flags.follow && !isDone(job.status)) {
      const final = await watchJob({
        batch: clients.batch,
        logs: clients.logs,
        clock: realClock,
        reporter: createReporter(io, false),
        jobId: job.id,
        pollIntervalMs: session.settings.awsBatch.pollIntervalMs,
        stop: new AbortController().signal,
        showLogs: true,
      });
      io.info(summary(final));
      return 0;
    }
    const streams = attemptStreams(job);
    if (!streams.length) io.info(`Job ${job.id} is ${job.status} and has no log yet`);
    for (const [i, stream] of streams.entries()) {
      if (job.maxAttempts > 1 || streams.length > 1) io.info(`Log of attempt ${i + 1} of ${Math.max(job.maxAttempts, streams.length)}:`);
      if (!stream) io.info(`(attempt ${i + 1} left no log: it never started)`);
      else await printStream(clients.logs, job.logGroup, stream, view.region, io);
    }
    io.info(isDone(job.status) ? summary(job) : `Job ${job.id} is ${job.status}; \`nbatch logs --follow ${job.id}\` keeps tailing it`);
    return 0;
  });
}

/** Finished attempts' streams, then the running attempt's. */
function attemptStreams(job: JobState): (string | undefined)[] {
  const streams = [...job.attemptStreams];
  const current = job.logStreamName;
  if (!isDone(job.status) && current && !streams.includes(current)) streams.push(current);
  return streams;
}

/** Prints one stream from its first line to what CloudWatch holds now. */
async function printStream(logs: Logs, group: string, stream: string, region: string, io: IO): Promise<void> {
  const tail = new LogTail({
    logs,
    group,
    stream,
    clock: realClock,
    minIntervalMs: 0,
    maxIntervalMs: 0,
    onEvent: (e) => io.out(logLine(e.timestamp, e.message)),
  });
  await aws({ action: "logs:GetLogEvents", resource: `log group ${group}`, region }, async () => {
    while ((await tail.fetch()) > 0);
  });
}

function forgotten(view: JobView, ctx: CommandContext): never {
  const r = view.record!;
  throw new UserError(
    `Batch has forgotten job ${view.id}, and with it where its log was; its results are still at ${r.resultsUrl}: nbatch build --attach ${view.id} ${displayPath(r.dir, ctx.env)}`,
  );
}

import type { AwsClients } from "../../aws/clients.js";
import { parseS3Url } from "../../aws/s3.js";
import { displayPath } from "../../config/file.js";
import { UserError } from "../../errors.js";
import { rememberLogs, type RunRecord } from "../../history.js";
import { attemptStreams, isDone, summary } from "../../job/batch.js";
import { readLogCopy } from "../../job/log-copy.js";
import { LogTail } from "../../job/tail.js";
import { watchJob } from "../../job/watch.js";
import { logLine } from "../../ui/output.js";
import type { CommandContext } from "../context.js";
import { describeOne, withJobSession, type AwsFlags } from "../status/lookup.js";

export interface LogsFlags extends AwsFlags {
  follow?: boolean;
}

/**
 * `nbatch logs <job-id> [--follow]`: the job's whole log, every attempt, then
 * optionally the live tail. A log CloudWatch no longer has, or a job Batch
 * has forgotten, is read from the streams the run history recorded, else
 * from the copy the agent kept beside the results.
 */
export async function logsRun(id: string, flags: LogsFlags, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  return withJobSession(flags, ctx, async (session) => {
    const view = await describeOne(session, id);
    const clients = session.clients(view.region, view.profile);
    const record = view.record;
    const job = view.state;
    if (!job) {
      const r = record!;
      const shown = await printAttempts(ctx, clients, r.logGroup, r.logStreams ?? [], r);
      if (!shown) throw forgotten(r, ctx);
      out.info(`Batch has forgotten job ${r.jobId}; this was its log`);
      return 0;
    }
    if (record) await rememberLogs(ctx.env, record.runId, job.logGroup, attemptStreams(job)).catch(() => undefined);
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
    else await printAttempts(ctx, clients, job.logGroup, streams, isDone(job.status) ? record : undefined, job.maxAttempts);
    out.info(isDone(job.status) ? summary(job) : `Job ${job.id} is ${job.status}; \`nbatch logs --follow ${job.id}\` keeps tailing it`);
    return 0;
  });
}

/**
 * Every attempt's log, in order, from CloudWatch. The last attempt's, when
 * CloudWatch no longer has it, comes from the agent's copy (which is the
 * last attempt's). False when nothing at all could be shown.
 */
async function printAttempts(
  ctx: CommandContext,
  clients: AwsClients,
  group: string | undefined,
  streams: readonly (string | null | undefined)[],
  record: RunRecord | undefined,
  maxAttempts = 1,
): Promise<boolean> {
  const { out } = ctx;
  const print = (e: { timestamp: number; message: string }) => out.out(logLine(e.timestamp, e.message));
  const fromCopy = async () => {
    if (!record?.logUrl || !(await readLogCopy(clients.s3, parseS3Url(record.logUrl), print))) return false;
    out.info(`(from the copy of the log kept with the job's results, ${record.logUrl}: CloudWatch no longer has it)`);
    return true;
  };
  if (!streams.length || !group) return fromCopy();
  let shown = false;
  const total = Math.max(maxAttempts, streams.length);
  for (const [i, stream] of streams.entries()) {
    if (total > 1) out.info(`Log of attempt ${i + 1} of ${total}:`);
    if (!stream) {
      out.info(`(attempt ${i + 1} left no log: it never started)`);
      continue;
    }
    const tail = new LogTail({ logs: clients.logs, group, stream, clock: ctx.clock, onEvent: print });
    await tail.readToEnd();
    if (tail.found) shown = true;
    else if (i === streams.length - 1 && (await fromCopy())) shown = true;
    else out.info(`(CloudWatch no longer has the log of attempt ${i + 1}: stream ${stream} in ${group})`);
  }
  return shown;
}

function forgotten(r: RunRecord, ctx: CommandContext): UserError {
  return new UserError(
    `Batch has forgotten job ${r.jobId}, and its log is neither in CloudWatch nor kept beside its results; its results are still at ${r.resultsUrl}: nbatch build --attach ${r.jobId} ${displayPath(r.dir, ctx.env)}`,
  );
}

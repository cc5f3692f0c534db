import type { Clock } from "../../clock.js";
import { backoffMs, isTransient } from "../../aws/retry.js";
import { UserError } from "../../errors.js";
import type { IO } from "../../ui/io.js";
import { localIsoTime } from "../../ui/format.js";
import { describeJob, isDone, type Batch, type JobState } from "./jobs.js";
import { LogTail, type Logs } from "./logs.js";

export interface WatchOptions {
  batch: Batch;
  logs: Logs;
  clock: Clock;
  io: IO;
  jobId: string;
  pollIntervalMs: number;
  /** Aborts watching (detach); the job itself is not touched. */
  stop: AbortSignal;
  showLogs?: boolean;
}

/**
 * Polls the job until it is done, printing each status change once and
 * tailing the log stream of each attempt. Returns the last state seen.
 */
export async function watchJob(o: WatchOptions): Promise<JobState> {
  let state: JobState | undefined;
  let tail: { stream: string; tail: LogTail; stop: AbortController; following: Promise<void> } | undefined;
  let failures = 0;
  const trouble = troubleReporter(o.io);
  const finishTail = async () => {
    if (!tail) return;
    tail.stop.abort();
    await tail.following;
    await tail.tail.drain().catch(() => undefined);
  };

  while (!o.stop.aborted) {
    let next: JobState | undefined;
    try {
      next = await describeJob(o.batch, o.jobId);
      failures = 0;
      trouble.ok();
    } catch (err) {
      if (!isTransient(err)) throw err;
      trouble.failed(err);
      await o.clock.sleep(backoffMs(++failures, o.pollIntervalMs, o.pollIntervalMs * 6), o.stop);
      continue;
    }
    if (!next) throw new UserError(`job ${o.jobId} not found: Batch forgets jobs some days after they end`);
    // The final status is told by the caller's summary, after the last log lines.
    if (!isDone(next.status) && (next.status !== state?.status || next.attempt !== state?.attempt)) o.io.info(statusLine(next, state));
    state = next;

    if (o.showLogs !== false && state.logStreamName && state.logStreamName !== tail?.stream) {
      await finishTail();
      const stop = new AbortController();
      const t = new LogTail({
        logs: o.logs,
        group: state.logGroup,
        stream: state.logStreamName,
        clock: o.clock,
        minIntervalMs: Math.max(200, o.pollIntervalMs / 5),
        maxIntervalMs: o.pollIntervalMs * 2,
        onEvent: (e) => o.io.out(`[batch] [${localIsoTime(e.timestamp)}] ${e.message}`),
        onTrouble: (err) => trouble.failed(err),
      });
      const following = t.follow(stop.signal).catch((err) => o.io.warn(`cannot read the job's log (${describe(err)}); still watching its status`));
      tail = { stream: state.logStreamName, tail: t, stop, following };
    }
    if (isDone(state.status)) break;
    await o.clock.sleep(o.pollIntervalMs, o.stop);
  }
  await finishTail();
  if (!state) throw new UserError(`stopped watching job ${o.jobId} before its status was known`);
  return state;
}

function statusLine(next: JobState, prev: JobState | undefined): string {
  const attempt = next.attempt > 1 && next.attempt !== prev?.attempt ? ` (attempt ${next.attempt})` : "";
  const reason = next.statusReason && !isDone(next.status) ? `: ${next.statusReason}` : "";
  return `Job status: ${next.status}${attempt}${reason}`;
}

function describe(err: unknown): string {
  const e = err as Error;
  return e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : e.message;
}

/** Says once that AWS can't be reached, and once that it can again. */
function troubleReporter(io: IO) {
  let reported = false;
  return {
    failed(err: unknown) {
      if (reported) return;
      reported = true;
      io.warn(`lost contact with AWS (${describe(err)}); still watching and retrying`);
    },
    ok() {
      if (!reported) return;
      reported = false;
      io.info("Back in contact with AWS");
    },
  };
}

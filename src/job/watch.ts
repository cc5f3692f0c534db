import type { Clock } from "../clock.js";
import { backoffMs, isTransient } from "../aws/retry.js";
import { UserError } from "../errors.js";
import { formatSeconds } from "../ui/format.js";
import type { Output } from "../ui/output.js";
import { attemptStreams, describeJob, isDone, type Batch, type JobState } from "./batch.js";
import { attemptLine, runnableLine } from "./reasons.js";
import { LogTail, type Logs } from "./tail.js";

export interface WatchOptions {
  batch: Batch;
  logs: Logs;
  clock: Clock;
  out: Output;
  jobId: string;
  pollIntervalMs: number;
  /** Aborts watching (detach); the job itself is not touched. */
  stop: AbortSignal;
  showLogs: boolean;
}

/** A job RUNNABLE for this many polls (5 minutes by default) gets a hint about capacity. */
const RUNNABLE_HINT_POLLS = 60;

/** Polls in which a job just submitted may still be missing from DescribeJobs. */
const UNSEEN_POLLS = 3;

/** Keeps an idle log tail to 40 GetLogEvents a minute and a busy one to 60 (docs/performance.md). */
const MAX_LOG_INTERVAL_MS = 1500;

interface Tail {
  stream: string;
  tail: LogTail;
  stop: AbortController;
  following: Promise<void>;
}

/**
 * Polls the job until it is done, printing each status change once and the
 * log of every attempt, from its first line. Returns the last state seen.
 */
export async function watchJob(o: WatchOptions): Promise<JobState> {
  let state: JobState | undefined;
  let tail: Tail | undefined;
  const seenStreams = new Set<string>();
  let failures = 0;
  let unseen = 0;
  const waiting = waitingReporter(o.out, o.clock, RUNNABLE_HINT_POLLS * o.pollIntervalMs);
  const trouble = troubleReporter(o.out);
  let final: JobState | undefined;
  const emitStatus = (s: JobState) => o.out.emit({ type: "status", jobId: s.id, status: s.status, attempt: s.attempt, attempts: s.maxAttempts, reason: s.statusReason });

  const newTail = (job: JobState, stream: string, attempt: number) => {
    seenStreams.add(stream);
    if (job.maxAttempts > 1) o.out.info(`Log of attempt ${attempt} of ${job.maxAttempts}:`);
    return new LogTail({
      logs: o.logs,
      group: job.logGroup,
      stream,
      clock: o.clock,
      minIntervalMs: Math.max(200, o.pollIntervalMs / 5),
      // Idle streams are polled at most every 1.5 s, so a line written after a quiet spell shows within 2 s.
      maxIntervalMs: Math.min(o.pollIntervalMs * 2, MAX_LOG_INTERVAL_MS),
      onEvent: (e) => o.out.emit({ type: "log", jobId: job.id, attempt, ...e }),
      onTrouble: (err) => trouble.failed(err),
    });
  };
  const finishTail = async () => {
    const t = tail;
    if (!t) return;
    tail = undefined;
    t.stop.abort();
    await t.following;
    // Detaching or exiting at once: no waiting for the last lines.
    if (o.stop.aborted) return;
    await t.tail.drain().catch((err) => o.out.warn(`cannot read the rest of the job's log (${describe(err)})`));
    if (!t.tail.found) {
      o.out.warn(`the job's log stream ${t.stream} never appeared in log group ${state?.logGroup}: check the awslogs-group option of the job definition and the logs:GetLogEvents permission`);
    }
  };
  /** Every attempt's log once, in order: those that ended before we saw them whole, then the live one, followed. */
  const showStreams = async (job: JobState) => {
    const streams = attemptStreams(job);
    for (const [i, stream] of streams.entries()) {
      if (!stream || seenStreams.has(stream)) continue;
      const live = !isDone(job.status) && i === streams.length - 1 && !job.attemptStreams.includes(stream);
      if (live) {
        const t = newTail(job, stream, i + 1);
        const stop = new AbortController();
        const following = t.follow(stop.signal).catch((err) => o.out.warn(`cannot read the job's log (${describe(err)}); still watching its status`));
        tail = { stream, tail: t, stop, following };
      } else {
        await newTail(job, stream, i + 1).drain().catch((err) => o.out.warn(`cannot read the log of attempt ${i + 1} (${describe(err)})`));
      }
    }
  };

  try {
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
      if (!next) {
        // A job just submitted may take a moment to show up; one seen before has been forgotten.
        if (!state && ++unseen <= UNSEEN_POLLS) {
          await o.clock.sleep(o.pollIntervalMs, o.stop);
          continue;
        }
        throw new UserError(`job ${o.jobId} not found: Batch forgets jobs some days after they end`);
      }
      const changed = next.status !== state?.status || next.attempt !== state?.attempt;
      // A new attempt says why the one before it ended, before anything of its own.
      if (state && next.attempt > state.attempt && next.attempts.length >= next.attempt - 1) {
        o.out.info(attemptLine(next.attempts[next.attempt - 2]!, next.attempt - 1, next));
      }
      if (changed) {
        // The final status is told by the caller's summary, and its event sent, after the last log lines.
        if (isDone(next.status)) final = next;
        else {
          o.out.info(statusLine(next));
          emitStatus(next);
        }
      }
      // Batch says why a job waits when it can tell; each new reason is worth a line, though the status stays.
      const waitReason = next.status === "RUNNABLE" ? next.statusReason : undefined;
      if (waitReason && (changed || waitReason !== state?.statusReason)) {
        o.out.info(runnableLine(waitReason));
        if (!changed) emitStatus(next);
      }
      state = next;

      if (o.showLogs) {
        // The attempt being followed has ended: its last lines first, then what came after it.
        if (tail && state.attemptStreams.includes(tail.stream)) await finishTail();
        await showStreams(state);
      }
      if (isDone(state.status)) break;
      if (state.status === "RUNNABLE") waiting.tick(state);
      else waiting.reset();
      await o.clock.sleep(o.pollIntervalMs, o.stop);
    }
    await finishTail();
    if (final) emitStatus(final);
  } finally {
    // Whatever ended the watch, the log tail must not go on polling.
    tail?.stop.abort();
  }
  if (!state) throw new UserError(`stopped watching job ${o.jobId} before its status was known`);
  return state;
}

/**
 * While a job waits for capacity: the elapsed time, redrawn on a terminal or
 * a line a minute in logs, and once it has waited long, a hint about why.
 */
function waitingReporter(out: Output, clock: Clock, hintAfterMs: number) {
  let since: number | undefined;
  let lastLine = 0;
  let hinted = false;
  return {
    tick(job: JobState) {
      const now = clock.now();
      since ??= now;
      const minutes = Math.floor((now - since) / 60_000);
      const waited = formatSeconds(Math.floor((now - since) / 1000));
      if (out.stderrIsTTY) out.progress(`Job status: RUNNABLE for ${waited}`);
      else if (minutes > lastLine) {
        lastLine = minutes;
        out.info(`Job ${job.id} still RUNNABLE after ${waited}`);
      }
      if (!hinted && now - since >= hintAfterMs) {
        hinted = true;
        out.warn(runnableHint(job.requested));
      }
    },
    /** The job left RUNNABLE; a later wait (a retry) is timed afresh. */
    reset() {
      [since, lastLine, hinted] = [undefined, 0, false];
    },
  };
}

function runnableHint(requested: string | undefined): string {
  return (
    `the job is still RUNNABLE: the queue's compute environments may have no room for ${requested ?? "the vCPUs and memory it asks for"}. ` +
    "Check their maximum vCPUs and instance types (nbatch check-setup), or ask for less with --aws-batch-cpus / --aws-batch-memory"
  );
}

function statusLine(job: JobState): string {
  const attempt = job.maxAttempts > 1 ? ` (attempt ${job.attempt} of ${job.maxAttempts})` : "";
  // A RUNNABLE job's reason has a line of its own, with what to do.
  const reason = job.statusReason && job.status !== "RUNNABLE" ? `: ${job.statusReason}` : "";
  return `Job status: ${job.status}${attempt}${reason}`;
}

function describe(err: unknown): string {
  const e = err as Error;
  // An explained failure is already a sentence for people; the SDK's own keep their name ("TimeoutError: ...").
  if (err instanceof UserError || !e.name || e.name === "Error") return e.message;
  return `${e.name}: ${e.message}`;
}

/** Says once that AWS can't be reached, and once that it can again. */
function troubleReporter(out: Output) {
  let reported = false;
  return {
    failed(err: unknown) {
      if (reported) return;
      reported = true;
      out.warn(`lost contact with AWS (${describe(err)}); still watching and retrying`);
    },
    ok() {
      if (!reported) return;
      reported = false;
      out.info("Back in contact with AWS");
    },
  };
}

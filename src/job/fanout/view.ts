/**
 * One live view of a run's tasks instead of a log stream each: the counts
 * by status and how long tasks have waited in RUNNABLE, redrawn in place on
 * a terminal and as a line now and then in CI logs; and each task that
 * fails, at once, with its index, item, why, and its last lines.
 */
import { GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import type { Clock } from "../../clock.js";
import type { Task } from "../../protocol.js";
import { formatBytes, formatDuration, formatSeconds, plural } from "../../ui/format.js";
import type { Output } from "../../ui/output.js";
import { describeJob, type Batch, type JobState } from "../batch.js";
import { whyFailed } from "../reasons.js";
import type { Logs } from "../tail.js";
import type { Ended } from "./children.js";
import type { ResultsTally } from "./results.js";
import { taskName } from "./tasks.js";

/** In CI logs: a line when the counts moved, at most this often; and one this often however still they are. */
const LINE_EVERY_MS = 15_000;
const HEARTBEAT_MS = 60_000;
/** How much of a failed task's log is shown. */
export const FAILED_TAIL_LINES = 10;

const ORDER = ["SUCCEEDED", "FAILED", "RUNNING", "STARTING", "RUNNABLE", "PENDING", "SUBMITTED"];

export class FanoutView {
  private waitingSince: number | undefined;
  private lastLine = "";
  private lastAt = 0;

  constructor(
    private readonly out: Output,
    private readonly clock: Clock,
    private readonly total: number,
  ) {}

  /** Counts by status; applied: how many tasks' results are home. */
  update(counts: Record<string, number>, applied: number): void {
    const now = this.clock.now();
    const running = (counts.RUNNING ?? 0) + (counts.STARTING ?? 0);
    if ((counts.RUNNABLE ?? 0) > 0 && running === 0) this.waitingSince ??= now;
    else this.waitingSince = undefined;
    const line = this.line(counts, applied);
    if (this.out.stderrIsTTY) return this.out.progress(line);
    const moved = line !== this.lastLine && now - this.lastAt >= LINE_EVERY_MS;
    if (moved || now - this.lastAt >= HEARTBEAT_MS) {
      this.out.info(line);
      [this.lastLine, this.lastAt] = [line, now];
    }
  }

  line(counts: Record<string, number>, applied: number): string {
    const parts = ORDER.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
    const waited = this.waitingSince === undefined ? "" : ` (RUNNABLE for ${formatSeconds(Math.floor((this.clock.now() - this.waitingSince) / 1000))})`;
    return `Tasks: ${parts.join(", ")}${waited}; results of ${applied} of ${plural(this.total, "task")} applied`;
  }
}

/** A task that failed, told at once: why, and its last lines (the log calls go through the run's budget). */
export async function tellFailure(o: { out: Output; batch: Batch; logs: Logs }, task: Task, ended: Ended): Promise<void> {
  const job = ended.ran ? await describeJob(o.batch, ended.jobId).catch(() => undefined) : undefined;
  const why = job ? whyFailed(job) : undefined;
  const how = ended.exitCode !== undefined ? `exited ${ended.exitCode}` : ended.ran ? "failed" : "not run";
  const reason = why ? `: ${why.reason}${why.fix ? `; ${why.fix}` : ""}` : !ended.ran && ended.reason ? `: ${ended.reason}` : "";
  o.out.warn(`${capital(taskName(task))} FAILED (${how})${reason}`);
  o.out.emit({ type: "task", index: task.index, ...(task.item !== undefined ? { item: task.item } : {}), jobId: ended.jobId, status: "FAILED", reason: why?.reason ?? ended.reason, ...(ended.exitCode !== undefined ? { exitCode: ended.exitCode } : {}) });
  if (job) await lastLines(o, job, task.index);
}

async function lastLines(o: { out: Output; logs: Logs }, job: JobState, index: number): Promise<void> {
  const stream = job.attemptStreams.at(-1) ?? job.logStreamName;
  if (!stream) return;
  try {
    const page = await o.logs.send(new GetLogEventsCommand({ logGroupName: job.logGroup, logStreamName: stream, startFromHead: false, limit: FAILED_TAIL_LINES }));
    for (const e of page.events ?? []) o.out.emit({ type: "log", jobId: job.id, attempt: job.attempt, timestamp: e.timestamp ?? 0, message: (e.message ?? "").replace(/\r?\n$/, ""), index });
  } catch (err) {
    o.out.warn(`cannot read the last lines of task ${index} (${(err as Error).message})`);
  }
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A task that did not succeed, for the closing lines. */
export interface FailedTask {
  task: Task;
  exitCode?: number;
  /** False when it never started: cancelled, or cut off by a failure before it in its lane. */
  ran: boolean;
}

/**
 * How the run ended, told in two lines (tasks, results), and its exit code:
 * 0 when every task succeeded; else the exit code of the lowest task that
 * failed (1 when it has none, or results were refused).
 */
export function closeRun(out: Output, r: { total: number; failed: FailedTask[]; tally?: ResultsTally; took: number }): number {
  const failed = [...r.failed].sort((a, b) => a.task.index - b.task.index);
  const first = failed[0];
  const notRun = failed.filter((f) => !f.ran).length;
  out.info(
    first
      ? `Tasks: ${r.total - failed.length} of ${r.total} SUCCEEDED, ${failed.length} FAILED${notRun ? ` (${notRun} not run)` : ""} after ${formatDuration(r.took)}; the exit code is task ${first.task.index}'s, the lowest that failed`
      : `Tasks: all ${r.total} SUCCEEDED after ${formatDuration(r.took)}`,
  );
  const t = r.tally;
  if (t) {
    const parts = [`${plural(t.written, "file")} written (${formatBytes(t.bytes)})`, `${t.identical} already up to date`];
    if (t.conflicts) parts.push(`${plural(t.conflicts, "conflict")} (above)`);
    if (t.refused) parts.push(`${t.refused} refused (above)`);
    out.info(`Results of ${t.applied} of ${plural(r.total, "task")}: ${parts.join(", ")}`);
  }
  const code = first ? first.exitCode || 1 : 0;
  out.exitCode(0, { status: first ? "FAILED" : "SUCCEEDED", jobExitCode: first?.exitCode, failed: failed.length });
  return code === 0 && t?.refused ? 1 : code;
}

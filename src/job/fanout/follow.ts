/**
 * Following a fan-out run to its end, as a single job is followed
 * (runners/aws-batch/follow.ts): the same signals (Ctrl-C twice cancels
 * every task, Ctrl-Z and SIGHUP detach), one live view of the tasks, the
 * log of the tasks asked for, each task's results home as it ends, then
 * the closing lines and the exit code.
 */
import { backoffMs, isTransient } from "../../aws/retry.js";
import { deleteObject, type S3Object } from "../../aws/s3.js";
import { EXIT, UserError } from "../../errors.js";
import type { Task } from "../../protocol.js";
import { formatDuration, plural, shellQuote } from "../../ui/format.js";
import { terminateJob } from "../batch.js";
import type { BatchContext } from "../context.js";
import { underControl } from "../control.js";
import type { FollowPrefs } from "../request.js";
import { LogTail } from "../tail.js";
import { budgeted, RateBudget } from "./budget.js";
import { ChildrenWatch, type Ended } from "./children.js";
import { childOf, type Lane } from "./lanes.js";
import { ResultsHome, type ResultsPlan } from "./results.js";
import { taskName } from "./tasks.js";
import { closeRun, FanoutView, tellFailure } from "./view.js";

/**
 * Calls per second this process makes, whatever the size of the run:
 * Batch allows an account 50 a second in all and CloudWatch Logs some tens
 * of GetLogEvents, shared with every other process (docs/fanout.md).
 */
export const BATCH_CALLS_PER_SECOND = 5;
export const LOG_CALLS_PER_SECOND = 5;

export interface FanoutTarget {
  runId: string;
  lanes: Lane[];
  /** By position: the order the children take the task list in. */
  tasks: Task[];
  env?: S3Object;
  /** Where results are applied; undefined when not downloading. */
  results?: ResultsPlan;
  /** Task indexes whose log is shown live (--follow-child). */
  follow: number[];
}

/** The id a run's arrays are known by: its first lane. */
export const arrayIdOf = (t: Pick<FanoutTarget, "lanes">) => t.lanes[0]!.jobId;

export function attachFanoutCommand(t: FanoutTarget, dir: string | undefined, prefs: FollowPrefs): string {
  return ["nbatch build", ...prefs.attachFlags, "--attach", arrayIdOf(t), ...(dir ? [shellQuote(dir)] : ["--no-download"])].join(" ");
}

export function detachFanout(t: FanoutTarget, prefs: FollowPrefs, out: BatchContext["out"], why: string): number {
  const attach = attachFanoutCommand(t, t.results?.dir, prefs);
  out.info(`${why}; the ${plural(t.tasks.length, "task")} of run ${t.runId} go on in AWS Batch (array ${arrayIdOf(t)}). Re-attach with:\n  ${attach}`);
  out.emit({ type: "detached", jobId: arrayIdOf(t), attach });
  return EXIT.ok;
}

export async function followFanout(t: FanoutTarget, prefs: FollowPrefs, ctx: BatchContext, cancelNow = false): Promise<number> {
  const { out, clock } = ctx;
  const batchBudget = new RateBudget(BATCH_CALLS_PER_SECOND, clock);
  const batch = budgeted(ctx.clients.batch, batchBudget);
  const logs = budgeted(ctx.clients.logs, new RateBudget(LOG_CALLS_PER_SECOND, clock));
  const watch = new ChildrenWatch(ctx.clients.batch, batchBudget, t.lanes, t.tasks.length);
  const view = new FanoutView(out, clock, t.tasks.length);
  const home = t.results ? new ResultsHome({ out, values: ctx.settings.values, s3: ctx.clients.s3 }, t.results) : undefined;
  const arrayId = arrayIdOf(t);
  const control = underControl({
    signals: ctx.signals,
    out,
    clock,
    detachOnInterrupt: prefs.detachOnInterrupt,
    jobId: `run ${t.runId}`,
    cancelNow,
    cancel(why) {
      out.info(`Cancelling the ${plural(t.tasks.length, "task")} of run ${t.runId} (${why}); waiting for them to stop. Press Ctrl-C once more to exit at once`);
      for (const lane of t.lanes) terminateJob(batch, lane.jobId, ctx.env).catch((err) => out.warn(`could not cancel ${lane.jobId}: ${(err as Error).message}`));
    },
  });
  out.exitCode(0, { jobId: arrayId, tasks: t.tasks.length });
  const tails = new Tails(t, ctx, logs);
  const started = clock.now();
  const failures: Ended[] = [];
  let trouble = 0;
  try {
    while (!control.stop.aborted) {
      let poll;
      try {
        poll = await watch.poll(tails.ids());
        trouble = 0;
      } catch (err) {
        if (!isTransient(err)) throw lost(err, t, prefs);
        if (trouble++ === 0) out.warn(`lost contact with AWS (${(err as Error).message}); still watching and retrying`);
        await clock.sleep(backoffMs(trouble, ctx.settings.values.pollIntervalMs, ctx.settings.values.pollIntervalMs * 6), control.stop);
        continue;
      }
      for (const c of poll.changed) {
        const task = t.tasks[c.position]!;
        out.emit({ type: "task", index: task.index, ...(task.item !== undefined ? { item: task.item } : {}), jobId: c.jobId, status: c.status, ...(c.reason ? { reason: c.reason } : {}) });
      }
      await tails.update(poll.described);
      for (const e of poll.ended) {
        const task = t.tasks[e.position]!;
        await tails.end(task.index);
        if (e.status === "FAILED") {
          failures.push(e);
          await tellFailure({ out, batch, logs }, task, e);
        } else out.emit({ type: "task", index: task.index, ...(task.item !== undefined ? { item: task.item } : {}), jobId: e.jobId, status: e.status, exitCode: e.exitCode ?? 0 });
        home?.add(task);
      }
      view.update(watch.counts(), home?.tally.applied ?? 0);
      if (watch.allEnded()) break;
      await clock.sleep(ctx.settings.values.pollIntervalMs, control.stop);
    }
  } finally {
    control.dispose();
    tails.stopAll();
    if (out.stderrIsTTY) out.progress("");
  }
  if (control.action === "detach" || control.action === "exit") {
    home?.stop(control.action);
    await home?.done();
    if (control.action === "exit") {
      out.info(`Stopped watching; the tasks of run ${t.runId} were asked to stop and may still be stopping`);
      return EXIT.interrupted;
    }
    return detachFanout(t, prefs, out, "Detached");
  }
  await home?.done();
  // The run has ended: no task will read the --env values again.
  if (t.env) await deleteObject(ctx.clients.s3, t.env).catch(() => undefined);
  return closing(t, ctx, prefs, { failures, home, took: clock.now() - started, cancelled: control.action === "cancel", calls: batchBudget.calls });
}

/** The closing lines and the exit code; the results that could not come home are one error with the command that fetches them. */
function closing(t: FanoutTarget, ctx: BatchContext, prefs: FollowPrefs, r: { failures: Ended[]; home?: ResultsHome; took: number; cancelled: boolean; calls: number }): number {
  const { out } = ctx;
  const failed = r.failures.map((e) => ({ task: t.tasks[e.position]!, exitCode: e.exitCode, ran: e.ran }));
  const code = closeRun(out, { total: t.tasks.length, failed, tally: r.home?.tally, took: r.took });
  out.detail(`${r.calls} Batch calls in ${formatDuration(r.took)}`);
  if (failed.length && !r.cancelled) out.info(`Run the failed tasks again, from the same inputs, with: nbatch build ${[...prefs.attachFlags, "--rerun-failed", t.runId].join(" ")}`);
  const lostResults = r.home?.tally.failed ?? [];
  if (lostResults.length) {
    const which = lostResults.map((f) => f.index).join(", ");
    throw new UserError(`the results of ${lostResults.length === 1 ? "task" : "tasks"} ${which} could not be brought home (above); they are safe in S3: bring them home with: ${attachFanoutCommand(t, t.results!.dir, prefs)}`);
  }
  return r.cancelled ? EXIT.interrupted : code;
}

/** Watching failed for good: the tasks are not touched, and the line says how to pick them up again. */
function lost(err: unknown, t: FanoutTarget, prefs: FollowPrefs): unknown {
  const attach = attachFanoutCommand(t, t.results?.dir, prefs);
  return new UserError(`${(err as Error).message} while watching run ${t.runId}; its tasks go on in AWS Batch and leave their results in S3: once that is fixed, re-attach with: ${attach}`, { cause: err });
}

/** The live logs of the tasks asked for (--follow-child), each followed while its child runs. */
class Tails {
  private readonly live = new Map<number, { stream: string; tail: LogTail; stop: AbortController; following: Promise<void> }>();
  private readonly ids_: Map<number, string>;

  constructor(
    t: FanoutTarget,
    private readonly ctx: BatchContext,
    private readonly logs: BatchContext["clients"]["logs"],
  ) {
    const positions = new Map(t.tasks.map((task, p) => [task.index, p]));
    this.ids_ = new Map(t.follow.map((i) => [i, childOf(t.lanes, positions.get(i)!).jobId]));
  }

  ids(): string[] {
    return [...this.ids_.values()];
  }

  async update(described: Map<string, import("../batch.js").JobState>): Promise<void> {
    for (const [index, id] of this.ids_) {
      const job = described.get(id);
      const stream = job?.logStreamName;
      if (!job || !stream || this.live.get(index)?.stream === stream) continue;
      await this.end(index);
      const tail = new LogTail({
        logs: this.logs,
        group: job.logGroup,
        stream,
        clock: this.ctx.clock,
        minIntervalMs: 1000,
        maxIntervalMs: 2000,
        onEvent: (e) => this.ctx.out.emit({ type: "log", jobId: id, attempt: job.attempt, ...e, index }),
      });
      const stop = new AbortController();
      const following = tail.follow(stop.signal).catch((err) => this.ctx.out.warn(`cannot read the log of task ${index} (${(err as Error).message})`));
      this.live.set(index, { stream, tail, stop, following });
    }
  }

  /** The task ended: its last lines, then no more polling of its log. */
  async end(index: number): Promise<void> {
    const t = this.live.get(index);
    if (!t) return;
    this.live.delete(index);
    t.stop.abort();
    await t.following;
    await t.tail.drain().catch(() => undefined);
  }

  stopAll(): void {
    for (const t of this.live.values()) t.stop.abort();
  }
}

export { taskName };

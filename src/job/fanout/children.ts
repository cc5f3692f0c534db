/**
 * What the children of a run's arrays are doing, for as few calls as the
 * answer needs: each poll describes the lanes' parents (100 a call) and
 * reads their statusSummary; only a status whose count moved is listed
 * (ListJobs with arrayJobId and jobStatus, 100 a page). Children that ended
 * are always found, waiting on the budget; a status a child merely passed
 * through is listed only while the budget has room, so a huge array costs
 * slower updates, never throttling (docs/fanout.md, "API use").
 */
import { DescribeJobsCommand, ListJobsCommand, type JobDetail, type JobSummary } from "@aws-sdk/client-batch";
import { isDone, toJobState, type Batch, type JobState } from "../batch.js";
import type { RateBudget } from "./budget.js";
import { positionOf, type Lane } from "./lanes.js";

/** How a child ended. ran: whether it started at all (a lane cut short by a failure, or a cancel, leaves some that never did). */
export interface Ended {
  position: number;
  jobId: string;
  status: "SUCCEEDED" | "FAILED";
  exitCode?: number;
  reason?: string;
  ran: boolean;
}

export interface Poll {
  /** Children seen in a new status that is not an end. */
  changed: { position: number; jobId: string; status: string; reason?: string }[];
  ended: Ended[];
  /** The lanes' parents, and any other ids asked for, as DescribeJobs told them. */
  described: Map<string, JobState>;
}

const ENDS = ["SUCCEEDED", "FAILED"] as const;
const UNDER_WAY = ["RUNNING", "STARTING", "RUNNABLE", "PENDING"] as const;
const DESCRIBE_LIMIT = 100;

export class ChildrenWatch {
  /** Each position's last known status. */
  readonly status: string[];
  /** Each array lane's last statusSummary, when it counts every child. */
  private readonly summaries = new Map<string, Record<string, number>>();

  constructor(
    private readonly batch: Batch,
    private readonly budget: RateBudget,
    private readonly lanes: readonly Lane[],
    tasks: number,
  ) {
    this.status = Array.from({ length: tasks }, () => "SUBMITTED");
  }

  /** Counts by status: each array lane's own statusSummary (exact, even while its children are not all listed), else what was seen. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    const add = (s: string, n = 1) => void (counts[s] = (counts[s] ?? 0) + n);
    for (const lane of this.lanes) {
      const summary = this.summaries.get(lane.jobId);
      if (summary) for (const [s, n] of Object.entries(summary)) add(s, n);
      else for (let a = 0; a < lane.size; a++) add(this.status[positionOf(lane, a)]!);
    }
    return counts;
  }

  allEnded(): boolean {
    return this.status.every(isDone);
  }

  async poll(alsoDescribe: readonly string[] = []): Promise<Poll> {
    const result: Poll = { changed: [], ended: [], described: new Map() };
    const details = await this.describe([...this.lanes.map((l) => l.jobId), ...alsoDescribe]);
    for (const d of details) result.described.set(d.jobId!, toJobState(d));
    for (const lane of this.lanes) {
      const parent = details.find((d) => d.jobId === lane.jobId);
      // A job just submitted may not be described yet.
      if (!parent) continue;
      if (lane.size < 2) this.plainLane(lane, parent, result);
      else await this.arrayLane(lane, parent, result);
    }
    return result;
  }

  private async describe(ids: readonly string[]): Promise<JobDetail[]> {
    const out: JobDetail[] = [];
    for (let i = 0; i < ids.length; i += DESCRIBE_LIMIT) {
      const page = await this.budget.call(() => this.batch.send(new DescribeJobsCommand({ jobs: ids.slice(i, i + DESCRIBE_LIMIT) })));
      out.push(...(page.jobs ?? []));
    }
    return out;
  }

  /** A lane of one task is a plain job: its own status is the child's. */
  private plainLane(lane: Lane, job: JobDetail, result: Poll): void {
    const state = toJobState(job);
    this.see(lane.offset, { jobId: lane.jobId, status: state.status as JobSummary["status"], statusReason: state.statusReason, startedAt: state.startedAt, container: { exitCode: state.exitCode, reason: state.containerReason } }, result);
  }

  private async arrayLane(lane: Lane, parent: JobDetail, result: Poll): Promise<void> {
    const summary = parent.arrayProperties?.statusSummary ?? {};
    if (Object.values(summary).reduce((a, b) => a + b, 0) === lane.size) this.summaries.set(lane.jobId, summary);
    const known: Record<string, number> = {};
    for (let a = 0; a < lane.size; a++) {
      const s = this.status[positionOf(lane, a)]!;
      known[s] = (known[s] ?? 0) + 1;
    }
    // A parent that has ended has no child left to end: a summary that lags must not hide one.
    const missing = isDone(parent.status!) && (known.SUCCEEDED ?? 0) + (known.FAILED ?? 0) < lane.size;
    for (const status of ENDS) {
      const fresh = (summary[status] ?? 0) - (known[status] ?? 0);
      if (fresh > 0 || missing) await this.list(lane, status, result, missing ? Infinity : fresh, false);
    }
    for (const status of UNDER_WAY) {
      if ((summary[status] ?? 0) !== (known[status] ?? 0)) await this.list(lane, status, result, Infinity, true);
    }
  }

  /** The children in one status, page by page, until `wanted` new ones are found; an optional listing stops when the budget has no room. */
  private async list(lane: Lane, jobStatus: string, result: Poll, wanted: number, optional: boolean): Promise<void> {
    let found = 0;
    let nextToken: string | undefined;
    do {
      const send = () => this.batch.send(new ListJobsCommand({ arrayJobId: lane.jobId, jobStatus: jobStatus as never, nextToken }));
      const call = optional ? this.budget.tryCall(send) : this.budget.call(send);
      if (!call) return;
      const page = await call;
      for (const child of page.jobSummaryList ?? []) {
        const index = child.arrayProperties?.index;
        if (index === undefined || index >= lane.size) continue;
        if (this.see(positionOf(lane, index), child, result)) found++;
      }
      nextToken = page.nextToken;
    } while (nextToken && found < wanted);
  }

  /** A child seen in a status: true when that is news. An ended child stays ended. */
  private see(position: number, child: Pick<JobSummary, "jobId" | "status" | "statusReason" | "startedAt" | "container">, result: Poll): boolean {
    const before = this.status[position]!;
    const status = child.status!;
    if (status === before || isDone(before)) return false;
    this.status[position] = status;
    if (!isDone(status)) {
      result.changed.push({ position, jobId: child.jobId!, status, reason: child.statusReason });
      return true;
    }
    result.ended.push({
      position,
      jobId: child.jobId!,
      status: status as Ended["status"],
      exitCode: child.container?.exitCode,
      reason: child.container?.reason ?? child.statusReason,
      ran: child.startedAt !== undefined,
    });
    return true;
  }
}

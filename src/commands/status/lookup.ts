/**
 * What the job commands share: settings, one set of AWS clients per region,
 * the run history, and DescribeJobs for many jobs at once. A job is looked up
 * in the region its run was recorded in, unless --aws-region says otherwise,
 * so `nbatch ls` finds jobs submitted to several regions.
 */
import type { AwsClients } from "../../aws/clients.js";
import { createAwsClients } from "../../aws/clients.js";
import { describeAws } from "../../config/aws.js";
import { resolveSettings } from "../../config/resolve.js";
import type { Settings } from "../../config/settings.js";
import { UserError } from "../../errors.js";
import { historyPath, listRuns, type RunRecord } from "../../history.js";
import { describeJobs, type JobState } from "../../job/batch.js";
import { taskJobId } from "../../job/fanout/lookup.js";
import type { AwsFlags } from "../aws-options.js";
import type { CommandContext } from "../context.js";

export type { AwsFlags };

/** A job as the user named it: its id, and its run when the history knows it. */
export interface JobTarget {
  id: string;
  record?: RunRecord;
  /** The task index, when the id named one task of a fan-out run. */
  task?: number;
}

/** A target and what Batch said of it: no state means Batch does not know the job (any more). */
export interface JobView extends JobTarget {
  region: string;
  profile?: string;
  state?: JobState;
  /** A fan-out run: its tasks' counts by status, over all its lanes. */
  tasks?: Record<string, number>;
}

export interface JobSession {
  settings: Settings;
  region(target: JobTarget): string;
  profile(target: JobTarget): string | undefined;
  clients(region: string, profile?: string): AwsClients;
  /** Job ids or run ids, matched against the history; the ids themselves when it has no match. */
  targets(ids: readonly string[]): Promise<JobTarget[]>;
  /** DescribeJobs, batched per region, in the targets' order. */
  describe(targets: readonly JobTarget[]): Promise<JobView[]>;
  close(): void;
}

function openJobSession(flags: AwsFlags, ctx: CommandContext): JobSession {
  const settings = resolveSettings({ flags: {}, region: flags.awsRegion, profile: flags.awsProfile, env: ctx.env });
  ctx.out.detail(describeAws(settings.aws));
  const made = new Map<string, AwsClients>();
  const session: JobSession = {
    settings,
    region: (t) => flags.awsRegion || t.record?.region || settings.aws.region,
    profile: (t) => flags.awsProfile || t.record?.profile || settings.aws.profile,
    clients(region, profile) {
      const key = `${region}\n${profile ?? ""}`;
      let c = made.get(key);
      // A run recorded under another profile is looked up with that profile's credentials, not this shell's.
      const credentials = profile && profile !== settings.aws.profile ? { source: "profile" as const, profile, from: "the run history" } : settings.aws.credentials;
      if (!c) made.set(key, (c = createAwsClients({ ...settings.aws, region, profile, credentials })));
      return c;
    },
    async targets(ids) {
      const runs = await listRuns(ctx.env);
      const find = (id: string) => runs.find((r) => r.jobId === id || r.runId === id);
      return Promise.all(
        [...new Set(ids)].map(async (id) => {
          // <run>:<i> is task i of a fan-out run: its child, wherever the lanes put it.
          const task = /^(.+):(\d+)$/.exec(id);
          const run = task && find(task[1]!);
          if (run?.lanes) return { id: await taskJobId(run, Number(task![2]), session.clients(session.region({ id, record: run }), session.profile({ id, record: run })).s3), task: Number(task![2]) };
          const record = find(id);
          return { id: record?.jobId ?? id, record };
        }),
      );
    },
    async describe(targets) {
      // One batched DescribeJobs per region and profile (another profile may be another account).
      const byPlace = new Map<string, { region: string; profile?: string; ids: string[] }>();
      for (const t of targets) {
        const [region, profile] = [session.region(t), session.profile(t)];
        const key = `${region}\n${profile ?? ""}`;
        if (!byPlace.has(key)) byPlace.set(key, { region, profile, ids: [] });
        // A fan-out run's other lanes count too.
        byPlace.get(key)!.ids.push(...new Set([t.id, ...(t.record?.lanes ?? [])]));
      }
      const found = new Map<string, JobState>();
      await Promise.all(
        [...byPlace.values()].map(async ({ region, profile, ids }) => {
          const states = await describeJobs(session.clients(region, profile).batch, ids);
          for (const s of states) found.set(s.id, s);
        }),
      );
      return targets.map((t) => ({ ...t, region: session.region(t), profile: session.profile(t), state: found.get(t.id), ...taskCounts(t, found) }));
    },
    close() {
      for (const c of made.values()) c.destroy();
      made.clear();
    },
  };
  return session;
}

/** A fan-out run's counts: each array lane's statusSummary, each one-task lane's own status. */
function taskCounts(t: JobTarget, found: ReadonlyMap<string, JobState>): { tasks?: Record<string, number> } {
  const lanes = (t.record?.lanes ?? [t.id]).map((id) => found.get(id));
  if (!t.record?.lanes && !lanes[0]?.statusSummary) return {};
  if (lanes.some((l) => !l)) return {};
  const counts: Record<string, number> = {};
  for (const lane of lanes as JobState[]) {
    for (const [status, n] of Object.entries(lane.statusSummary ?? { [lane.status]: 1 })) counts[status] = (counts[status] ?? 0) + n;
  }
  return { tasks: counts };
}

/** Runs fn with a session, closing its clients whatever happens. */
export async function withJobSession<T>(flags: AwsFlags, ctx: CommandContext, fn: (s: JobSession) => Promise<T>): Promise<T> {
  const session = openJobSession(flags, ctx);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}

/** The one line for ids neither Batch nor the history knows. */
export function unknownJobsError(views: readonly JobView[]): UserError {
  const ids = views.map((v) => v.id);
  const shown = ids.length > 5 ? `${ids.slice(0, 5).join(", ")} and ${ids.length - 5} more` : ids.join(", ");
  const regions = [...new Set(views.map((v) => v.region))].join(", ");
  const [what, them] = ids.length === 1 ? [`job ${shown} is`, "the id"] : [`jobs ${shown} are`, "the ids"];
  return new UserError(`${what} not known to Batch in ${regions} nor in this machine's run history: check ${them}, or pass --aws-region if it ran elsewhere`);
}

/** The one job a command acts on: its view, or the error that says it is unknown. */
export async function describeOne(session: JobSession, id: string): Promise<JobView> {
  const [target] = await session.targets([id]);
  const [view] = await session.describe([target!]);
  if (!view!.state && !view!.record) throw unknownJobsError([view!]);
  return view!;
}

export function emptyHistoryHint(ctx: CommandContext): string {
  return `No runs recorded yet in ${historyPath(ctx.env)}: each \`nbatch build --aws-batch\` adds one; or pass job ids`;
}

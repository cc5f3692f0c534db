import { listRuns } from "../../history.js";
import type { CommandContext } from "../context.js";
import { emptyHistoryHint, unknownJobsError, withJobSession, type AwsFlags, type JobTarget } from "./lookup.js";
import { durationText, exitText, formatTable, jobJson, localTime, printForgotten, reasonText, statusText } from "./view.js";

export interface StatusFlags extends AwsFlags {
  json?: boolean;
}

/** Without ids, this many of the most recent runs. */
const RECENT_RUNS = 20;

/** `nbatch status [<job-id>...]`: the live status of jobs, or of the recent runs. */
export async function statusRun(ids: string[], flags: StatusFlags, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  return withJobSession(flags, ctx, async (session) => {
    const targets: JobTarget[] = ids.length
      ? await session.targets(ids)
      : (await listRuns(ctx.env, { limit: RECENT_RUNS })).map((record) => ({ id: record.jobId, record }));
    if (!targets.length) {
      out.info(emptyHistoryHint(ctx));
      return 0;
    }
    const views = await session.describe(targets);
    const known = views.filter((v) => v.state || v.record);
    const unknown = views.filter((v) => !v.state && !v.record);
    if (flags.json) {
      for (const v of known) out.out(JSON.stringify(jobJson(v)));
    } else if (known.length) {
      const now = ctx.clock.now();
      const rows = known.map((v) => [v.id, v.state?.name ?? v.record!.jobName, statusText(v), exitText(v), localTime(v.state?.startedAt), durationText(v, now), reasonText(v)]);
      for (const line of formatTable(["JOB ID", "NAME", "STATUS", "EXIT", "STARTED", "DURATION", "WHY"], rows)) out.out(line);
      printForgotten(out, known, ctx.env);
    }
    if (unknown.length) throw unknownJobsError(unknown);
    return 0;
  });
}

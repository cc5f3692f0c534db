import { displayPath } from "../../config/file.js";
import { UsageError } from "../../errors.js";
import { listRuns } from "../../history.js";
import type { CommandContext } from "../context.js";
import { emptyHistoryHint, withJobSession, type AwsFlags } from "../status/lookup.js";
import { exitText, formatTable, jobJson, localTime, printForgotten, statusText } from "../status/view.js";
import { printable, shownCommand } from "../../ui/format.js";

export interface LsFlags extends AwsFlags {
  limit: string;
  json?: boolean;
}

const COMMAND_WIDTH = 40;

/** `nbatch ls`: this user's recent runs from the run history, each with its live status. */
export async function lsRun(flags: LsFlags, ctx: CommandContext): Promise<number> {
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${flags.limit}: give a whole number of runs, 1 or more`);
  const runs = await listRuns(ctx.env, { limit });
  if (!runs.length) {
    ctx.out.info(emptyHistoryHint(ctx));
    return 0;
  }
  return withJobSession(flags, ctx, async (session) => {
    const views = await session.describe(runs.map((record) => ({ id: record.jobId, record })));
    if (flags.json) {
      for (const v of views) ctx.out.out(JSON.stringify(jobJson(v)));
      return 0;
    }
    const rows = views.map((v) => {
      const r = v.record!;
      return [localTime(r.submittedAt), v.id, statusText(v), exitText(v), printable(displayPath(r.dir, ctx.env)), shorten(shownCommand(r.command))];
    });
    for (const line of formatTable(["SUBMITTED", "JOB ID", "STATUS", "EXIT", "DIR", "COMMAND"], rows)) ctx.out.out(line);
    printForgotten(ctx.out, views, ctx.env);
    return 0;
  });
}

function shorten(text: string): string {
  return text.length > COMMAND_WIDTH ? `${text.slice(0, COMMAND_WIDTH - 1)}…` : text;
}

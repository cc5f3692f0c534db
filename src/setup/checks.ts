/**
 * `nbatch check-setup`: every check, in order. Each area (account, bucket,
 * queue, job definition) lives in its own checks-*.ts; this file decides
 * what depends on what.
 */
import { checkAccount, checkRegion } from "./checks-account.js";
import { checkBatch } from "./checks-batch.js";
import { checkBucket } from "./checks-bucket.js";
import { checkJob } from "./checks-job.js";
import { skipped, type CheckResult, type SetupContext } from "./check.js";

/** Every check, in the order they are shown; independent areas run concurrently. */
export async function runChecks(ctx: SetupContext): Promise<CheckResult[]> {
  const account = await checkAccount(ctx);
  const region = checkRegion(ctx.settings);
  if (account.status === "fail") {
    const rest = [
      ["bucket", "bucket"],
      ["queue", "job queue"],
      ["job-definition", "job definition"],
    ].map(([id, title]) => skipped(id!, title!, "needs working credentials"));
    return [account, region, ...rest];
  }
  const [bucket, job] = await Promise.all([checkBucket(ctx), checkJob(ctx)]);
  // The queue check sizes the job against its compute environments, so it needs the job definition.
  const batch = await checkBatch(ctx, job.definition);
  return [account, region, ...bucket, ...batch, ...job.results];
}

export function exitCodeOf(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

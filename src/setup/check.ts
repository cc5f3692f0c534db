/** What a check of `nbatch check-setup` is, and what every check gets. */
import type { BatchClient } from "@aws-sdk/client-batch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { S3Client } from "@aws-sdk/client-s3";
import type { STSClient } from "@aws-sdk/client-sts";
import { awsErrorToUserError, type AwsContext } from "../aws/errors.js";
import type { Settings } from "../config/settings.js";
import { isUserError } from "../errors.js";

/** ok ✔ · warn ⚠ (works, but costs money or risks data) · fail ✘ (nbatch build will not work) · skip (an earlier check failed). */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface CheckResult {
  /** Stable, for --json: "credentials", "bucket-lifecycle", ... */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found, or why it is a problem. */
  detail: string;
  /** How to fix it; absent when there is nothing to fix. */
  hint?: string;
  /** Facts for --json consumers, e.g. the account or the job's image. */
  facts?: Record<string, string | number | boolean>;
}

export interface SetupClients {
  s3: Pick<S3Client, "send">;
  batch: Pick<BatchClient, "send">;
  logs: Pick<CloudWatchLogsClient, "send">;
  sts: Pick<STSClient, "send">;
}

export interface SetupContext {
  settings: Settings;
  clients: SetupClients;
  /** Names the write probe object; random in real runs. */
  probeId: string;
  /** The share jobs would be submitted with on a fair-share queue. */
  share: string;
  /** GPUs and CPU architecture to check the queue for (check-setup --gpus, --arch). */
  asks?: { gpus?: number; arch?: string };
}

export const check = (id: string, title: string, status: CheckStatus, detail: string, hint?: string): CheckResult => ({
  id,
  title,
  status,
  detail,
  ...(hint ? { hint } : {}),
});

export const skipped = (id: string, title: string, because: string): CheckResult => check(id, title, "skip", `skipped: ${because}`);

/**
 * An AWS call whose failure is a finding, not a crash: the one-line message
 * of a failure the user can fix, else the service's own error text. Errors
 * that are not from AWS (bugs) still throw.
 */
export async function attempt<T>(context: AwsContext, fn: () => Promise<T>): Promise<{ value: T } | { error: string; name: string }> {
  try {
    return { value: await fn() };
  } catch (err) {
    const user = awsErrorToUserError(err, context);
    if (user) return { error: user.message, name: (err as Error).name };
    if (isUserError(err)) return { error: err.message, name: err.name };
    const e = err as { name?: string; message?: string; $metadata?: unknown };
    if (e?.$metadata === undefined) throw err;
    return { error: `${context.action} on ${context.resource} failed: ${e.name}: ${e.message}`, name: e.name ?? "Error" };
  }
}


/** The checks made before anything is uploaded: a wrong name fails in seconds, not after the upload. */
import { DescribeComputeEnvironmentsCommand, DescribeJobQueuesCommand, type ComputeEnvironmentDetail, type JobDefinition, type JobQueueDetail } from "@aws-sdk/client-batch";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import type { S3 } from "../aws/s3.js";
import { UsageError, UserError } from "../errors.js";
import { userName, type Batch } from "./batch.js";

export async function checkBucket(s3: S3, bucket: string, expectedOwner?: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    // S3 answers a bucket of another account, under ExpectedBucketOwner, as access denied.
    if (expectedOwner && err instanceof UserError && /^access denied/.test(err.message)) {
      throw new UserError(
        `bucket ${bucket} is not owned by account ${expectedOwner} (the s3-bucket-owner setting), or you may not list it: check the bucket name and that setting`,
      );
    }
    throw err;
  }
}

export async function checkQueue(batch: Batch, queue: string, region: string): Promise<JobQueueDetail> {
  const res = await batch.send(new DescribeJobQueuesCommand({ jobQueues: [queue] }));
  const q = res.jobQueues?.[0];
  if (!q) {
    throw new UserError(
      `job queue "${queue}" not found in ${region}: check the queue setting (--aws-batch-queue, NBATCH_AWS_BATCH_QUEUE or [aws-batch] queue) and the region`,
    );
  }
  if (q.state !== "ENABLED") {
    throw new UserError(`job queue "${queue}" is ${q.state}: enable it (aws batch update-job-queue --job-queue ${queue} --state ENABLED) or use another queue`);
  }
  return q;
}

/** The compute environments a queue places its jobs on; none when they cannot be described (the job still goes). */
export async function queueEnvironments(batch: Batch, queue: JobQueueDetail): Promise<ComputeEnvironmentDetail[]> {
  const refs = (queue.computeEnvironmentOrder ?? []).map((c) => c.computeEnvironment!).filter(Boolean);
  if (!refs.length) return [];
  return (await batch.send(new DescribeComputeEnvironmentsCommand({ computeEnvironments: refs }))).computeEnvironments ?? [];
}

/**
 * A queue with a fair-share scheduling policy requires a share identifier on
 * every job, and a queue without one refuses it (AWS Batch API reference,
 * SubmitJob shareIdentifier); --priority means something only with a share.
 */
export function shareFor(queue: JobQueueDetail, share: string, priority: number | undefined): { shareIdentifier?: string; schedulingPriority?: number } {
  if (!queue.schedulingPolicyArn) {
    if (priority !== undefined) throw new UsageError(`--priority orders jobs on a fair-share queue; ${queue.jobQueueName} has no scheduling policy (its jobs run first in, first out)`);
    return {};
  }
  return { shareIdentifier: share, ...(priority !== undefined ? { schedulingPriority: priority } : {}) };
}

/** The share when none is set: the user's name, in the letters and digits a share identifier may have. */
export function defaultShare(env: Readonly<Record<string, string | undefined>>): string {
  return userName(env).replace(/[^A-Za-z0-9]/g, "") || "nbatch";
}

/** The form of a job definition nbatch can submit: the container form, or ecsProperties; not eksProperties, nor multinode. */
export function checkDefinitionForm(def: JobDefinition): void {
  const name = `${def.jobDefinitionName}:${def.revision}`;
  if (def.eksProperties) {
    throw new UserError(`job definition ${name} runs on Amazon EKS (eksProperties), which nbatch does not submit to yet: its logs and exit status come from the cluster, not CloudWatch; use a definition for an ECS or Fargate queue`);
  }
  if (def.type === "multinode" || def.nodeProperties) throw new UserError(`job definition ${name} is a multi-node parallel job, which nbatch does not submit: use a container job definition`);
}


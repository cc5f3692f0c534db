/** The checks made before anything is uploaded: a wrong name fails in seconds, not after the upload. */
import { DescribeJobQueuesCommand } from "@aws-sdk/client-batch";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import type { S3 } from "../aws/s3.js";
import { UserError } from "../errors.js";
import type { Batch } from "./batch.js";

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

export async function checkQueue(batch: Batch, queue: string, region: string): Promise<void> {
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
}


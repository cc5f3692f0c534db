import type { S3Client } from "@aws-sdk/client-s3";
import type { AwsSettings, S3Policy } from "../config/settings.js";

/** Commands that create objects, which must be encrypted at rest. */
const WRITES = new Set(["PutObjectCommand", "CreateMultipartUploadCommand", "CopyObjectCommand"]);

/**
 * Applies the bucket-owner check and server-side encryption to every S3
 * call the client makes (ours, the multipart upload's parts, the zip reader's
 * ranged reads), so no code path can forget them.
 */
export function applyS3Policy(client: S3Client, policy: S3Policy): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      if (policy.expectedBucketOwner && "Bucket" in input) input.ExpectedBucketOwner ??= policy.expectedBucketOwner;
      // "none": no header at all, for S3-compatible stores that refuse it (the bucket's own default still applies).
      if (WRITES.has(context.commandName ?? "") && policy.sse !== "none") {
        input.ServerSideEncryption ??= policy.sse;
        if (policy.sse !== "AES256" && policy.sseKmsKeyId) input.SSEKMSKeyId ??= policy.sseKmsKeyId;
      }
      return next(args);
    },
    { step: "initialize", name: "nbatchS3Policy" },
  );
}

/**
 * What the agent inside the job needs to treat S3 as the CLI does: the
 * policy as NBATCH_* variables, and the checksum setting (a store that
 * refuses checksums refuses the agent's upload too).
 */
export function agentS3Env(aws: Pick<AwsSettings, "s3" | "requestChecksumCalculation">): { name: string; value: string }[] {
  const policy = aws.s3;
  return [
    ...(policy ? [{ name: "NBATCH_AWS_BATCH_SSE", value: policy.sse }] : []),
    ...(policy?.sseKmsKeyId ? [{ name: "NBATCH_AWS_BATCH_SSE_KMS_KEY_ID", value: policy.sseKmsKeyId }] : []),
    ...(policy?.expectedBucketOwner ? [{ name: "NBATCH_AWS_BATCH_S3_BUCKET_OWNER", value: policy.expectedBucketOwner }] : []),
    ...(aws.requestChecksumCalculation ? [{ name: "AWS_REQUEST_CHECKSUM_CALCULATION", value: aws.requestChecksumCalculation.toLowerCase() }] : []),
  ];
}

import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { motoEndpoint } from "./moto.js";

const clientConfig = () => {
  const endpoint = motoEndpoint();
  if (!endpoint) throw new Error("moto is not running: use describeWithMoto for tests that need it");
  return { endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
};

/** An S3 client for the run's moto server. */
export function s3(): S3Client {
  return new S3Client({ ...clientConfig(), forcePathStyle: true });
}

/** A CloudWatch Logs client for the run's moto server. */
export function logs(): CloudWatchLogsClient {
  return new CloudWatchLogsClient(clientConfig());
}

/** A bucket name no other test file uses, since they share one moto server. */
export function uniqueBucketName(prefix = "nbatch-test"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

export async function createBucket(name: string): Promise<void> {
  const client = s3();
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/** Every key under prefix, sorted. */
export async function listKeys(bucket: string, prefix = ""): Promise<string[]> {
  const client = s3();
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    client.destroy();
  }
  return keys.sort();
}

export async function getText(bucket: string, key: string): Promise<string> {
  const client = s3();
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await object.Body!.transformToString();
  } finally {
    client.destroy();
  }
}

/** Every message of a log stream, oldest first. */
export async function logLines(logGroupName: string, logStreamName: string): Promise<string[]> {
  const client = logs();
  const lines: string[] = [];
  try {
    let token: string | undefined;
    for (;;) {
      const page = await client.send(
        new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken: token }),
      );
      lines.push(...(page.events ?? []).map((e) => e.message!));
      if (page.nextForwardToken === token) return lines;
      token = page.nextForwardToken;
    }
  } finally {
    client.destroy();
  }
}

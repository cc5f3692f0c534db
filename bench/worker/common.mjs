// Shared by the worker scripts: an S3 client configured as nbatch configures its own.
import { S3Client } from "@aws-sdk/client-s3";

export function s3Client(endpoint) {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    retryMode: "standard",
    maxAttempts: 5,
  });
}

/** Workers answer with one JSON line on stdout. */
export function report(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

import { randomBytes } from "node:crypto";

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then random bits, so run
 * ids sort by time in S3 listings and in `nbatch ls`.
 */
export function newRunId(now: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}

const JOB_NAME_MAX = 128;

/**
 * A Batch job name (^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$) from the directory's
 * name and the run id, valid whatever the directory is called.
 */
export function jobName(dirName: string, runId: string): string {
  const suffix = `-${runId}`;
  const base = dirName
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, JOB_NAME_MAX - "nbatch-".length - suffix.length)
    .replace(/[-_]+$/, "");
  return `nbatch-${base || "dir"}${suffix}`;
}

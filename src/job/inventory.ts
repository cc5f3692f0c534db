/**
 * What a run may build on: the objects under the prefix's inputs/ that exist
 * and will outlive a job started now. One listing says what exists and how
 * old it is; the bucket's lifecycle rules, read once, say how long it lasts.
 */
import { GetBucketLifecycleConfigurationCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { sdkError } from "../aws/errors.js";
import type { S3 } from "../aws/s3.js";
import type { BucketLocation } from "../config/settings.js";
import { soonestExpiry, type Expiry } from "../setup/lifecycle.js";
import { objectAt } from "./layout.js";

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
/** When the rules cannot be read: the shortest expiry S3 allows. */
export const UNKNOWN_EXPIRY: Expiry = { days: 1 };
const MAX_MARGIN = 2 * DAY;

export interface Inventory {
  /** Every key under inputs/, with its LastModified. */
  modified: Map<string, number>;
  expiry: Expiry;
  /** Why the rules are assumed, when they could not be read. */
  assumed?: string;
  /** The key exists and will not expire before a job started now can have read it. */
  usable(key: string): boolean;
}

export async function takeInventory(s3: S3, loc: BucketLocation, now: number): Promise<Inventory> {
  const [rules, modified] = await Promise.all([readExpiry(s3, loc), listInputs(s3, loc)]);
  const { expiry } = rules;
  return {
    modified,
    ...rules,
    usable(key) {
      const at = modified.get(key);
      return at !== undefined && usableUntil(at, expiry) > now;
    },
  };
}

/**
 * The last moment a piece written at `modified` may still be referenced: its
 * expiry less a margin for the job to wait in its queue and start (half the
 * rule's age, at most two days). S3 expires objects at the earliest the
 * rule's number of days after they were written.
 */
export function usableUntil(modified: number, expiry: Expiry): number {
  const byAge = expiry.days === undefined ? Infinity : modified + expiry.days * DAY - Math.min(MAX_MARGIN, (expiry.days * DAY) / 2);
  const byDate = expiry.date === undefined ? Infinity : expiry.date - MAX_MARGIN;
  return Math.min(byAge, byDate);
}

async function readExpiry(s3: S3, loc: BucketLocation): Promise<{ expiry: Expiry; assumed?: string }> {
  try {
    const res = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: loc.bucket }));
    return { expiry: soonestExpiry(res.Rules ?? [], `${objectAt(loc, "inputs").key}/`) };
  } catch (err) {
    const e = sdkError(err) as { name?: string; message?: string };
    if (e?.name === "NoSuchLifecycleConfiguration") return { expiry: {} };
    // AccessDenied, or a store without lifecycle rules: the safe assumption.
    return { expiry: UNKNOWN_EXPIRY, assumed: e?.name ?? e?.message ?? String(err) };
  }
}

async function listInputs(s3: S3, loc: BucketLocation): Promise<Map<string, number>> {
  const modified = new Map<string, number>();
  const prefix = `${objectAt(loc, "inputs").key}/`;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) modified.set(o.Key, o.LastModified?.getTime() ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return modified;
}

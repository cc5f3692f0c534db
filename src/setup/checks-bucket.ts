import {
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import type { BucketLocation } from "../config/settings.js";
import { attempt, check, skipped, type CheckResult, type SetupContext } from "./check.js";
import { coveringRule, describeRule } from "./lifecycle.js";

const TITLES = { lifecycle: "bucket lifecycle", encryption: "bucket encryption", publicAccess: "public access" };

/** The bucket: reachable and writable (required), then lifecycle, encryption and public access (advisory). */
export async function checkBucket(ctx: SetupContext): Promise<CheckResult[]> {
  const loc = ctx.settings.values.s3Bucket;
  const rest = (because: string) => [
    skipped("bucket-lifecycle", TITLES.lifecycle, because),
    skipped("bucket-encryption", TITLES.encryption, because),
    skipped("bucket-public-access", TITLES.publicAccess, because),
  ];
  if (!loc) {
    const hint = "pass --aws-batch-s3-bucket, set NBATCH_AWS_BATCH_S3_BUCKET, or run: nbatch config set aws-batch.s3-bucket s3://your-bucket/prefix";
    return [check("bucket", "bucket", "fail", "no S3 bucket configured (there is no default)", hint), ...rest("no bucket configured")];
  }
  const access = await checkAccess(ctx, loc);
  if (access.status === "fail") return [access, ...rest("the bucket is not usable")];
  return [access, ...(await Promise.all([checkLifecycle(ctx, loc), checkEncryption(ctx, loc.bucket), checkPublicAccess(ctx, loc.bucket)]))];
}

async function checkAccess(ctx: SetupContext, loc: BucketLocation): Promise<CheckResult> {
  const { s3 } = ctx.clients;
  const { region } = ctx.settings.aws;
  const url = `s3://${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ""}`;
  const fail = (detail: string) => check("bucket", "bucket", "fail", detail, "create the bucket or fix the s3-bucket setting; see docs/aws-setup.md for the bucket and its policy");
  const head = await attempt({ action: "s3:ListBucket", resource: `s3://${loc.bucket}`, region }, () => s3.send(new HeadBucketCommand({ Bucket: loc.bucket })));
  if ("error" in head) return fail(head.error);

  const key = [loc.prefix, "check-setup", `${ctx.probeId}.txt`].filter(Boolean).join("/");
  const probe = { action: "s3:PutObject", resource: `s3://${loc.bucket}/${key}`, region };
  const put = await attempt(probe, () =>
    s3.send(new PutObjectCommand({ Bucket: loc.bucket, Key: key, Body: "written by nbatch check-setup; safe to delete\n" })),
  );
  if ("error" in put) return fail(put.error);
  const removed = await attempt({ ...probe, action: "s3:DeleteObject" }, () => s3.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: key })));

  // GetBucketLocation answers null for us-east-1, for historical reasons.
  const where = await attempt({ action: "s3:GetBucketLocation", resource: `s3://${loc.bucket}`, region }, () =>
    s3.send(new GetBucketLocationCommand({ Bucket: loc.bucket })),
  );
  const bucketRegion = "value" in where ? where.value.LocationConstraint || "us-east-1" : undefined;
  const facts = { bucket: loc.bucket, prefix: loc.prefix, ...(bucketRegion ? { bucketRegion } : {}) };
  if (bucketRegion && bucketRegion !== region) {
    return {
      ...check("bucket", "bucket", "warn", `${url} is writable, but the bucket is in ${bucketRegion} and jobs run in ${region}: every transfer crosses regions (slower, and billed)`, `use a bucket in ${region}, or run jobs in ${bucketRegion}`),
      facts,
    };
  }
  if ("error" in removed) {
    return { ...check("bucket", "bucket", "warn", `${url} is writable, but the probe object could not be deleted: ${removed.error}`, "grant s3:DeleteObject on the prefix (docs/iam/user-policy.json)"), facts };
  }
  return { ...check("bucket", "bucket", "ok", `${url} is reachable and writable${bucketRegion ? ` (bucket in ${bucketRegion})` : ""}`), facts };
}

async function checkLifecycle(ctx: SetupContext, loc: BucketLocation): Promise<CheckResult> {
  const { s3 } = ctx.clients;
  const context = { action: "s3:GetLifecycleConfiguration", resource: `s3://${loc.bucket}`, region: ctx.settings.aws.region };
  const res = await attempt(context, () => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: loc.bucket })));
  const where = loc.prefix ? `under ${loc.prefix}/` : `in ${loc.bucket}`;
  const noRules = "error" in res && res.name === "NoSuchLifecycleConfiguration";
  if ("error" in res && !noRules) return check("bucket-lifecycle", TITLES.lifecycle, "warn", `cannot tell: ${res.error}`);
  const rules = "value" in res ? (res.value.Rules ?? []) : [];
  const rule = coveringRule(rules, loc.prefix);
  if (!rule) {
    const hint = noRules
      ? `aws s3api put-bucket-lifecycle-configuration --bucket ${loc.bucket} --lifecycle-configuration '{"Rules":[{"ID":"nbatch-expire","Status":"Enabled","Filter":{"Prefix":"${loc.prefix ? `${loc.prefix}/` : ""}"},"Expiration":{"Days":30},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1}}]}'`
      : `add a rule that expires objects ${where}, e.g. after 30 days, to the bucket's existing rules (docs/aws-setup.md, step 1)`;
    return check("bucket-lifecycle", TITLES.lifecycle, "warn", `no enabled lifecycle rule expires objects ${where}: inputs and results are kept, and billed, forever`, hint);
  }
  const versioning = await attempt({ ...context, action: "s3:GetBucketVersioning" }, () => s3.send(new GetBucketVersioningCommand({ Bucket: loc.bucket })));
  if ("value" in versioning && versioning.value.Status === "Enabled" && !rule.NoncurrentVersionExpiration) {
    return check(
      "bucket-lifecycle",
      TITLES.lifecycle,
      "warn",
      `${describeRule(rule)}, but versioning is on and old versions never expire`,
      `add NoncurrentVersionExpiration to rule ${rule.ID ?? ""}, or suspend versioning on ${loc.bucket}`,
    );
  }
  return { ...check("bucket-lifecycle", TITLES.lifecycle, "ok", describeRule(rule)), facts: { expirationDays: rule.Expiration?.Days ?? 0 } };
}

async function checkEncryption(ctx: SetupContext, bucket: string): Promise<CheckResult> {
  const context = { action: "s3:GetEncryptionConfiguration", resource: `s3://${bucket}`, region: ctx.settings.aws.region };
  const res = await attempt(context, () => ctx.clients.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })));
  const algorithm = "value" in res ? res.value.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm : undefined;
  if ("error" in res && res.name !== "ServerSideEncryptionConfigurationNotFoundError") {
    return check("bucket-encryption", TITLES.encryption, "warn", `cannot tell: ${res.error}`);
  }
  if (!algorithm) {
    return check(
      "bucket-encryption",
      TITLES.encryption,
      "warn",
      "no default encryption: objects are stored unencrypted unless each upload asks",
      `aws s3api put-bucket-encryption --bucket ${bucket} --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'`,
    );
  }
  return { ...check("bucket-encryption", TITLES.encryption, "ok", `objects are encrypted by default (${algorithm})`), facts: { algorithm } };
}

async function checkPublicAccess(ctx: SetupContext, bucket: string): Promise<CheckResult> {
  const context = { action: "s3:GetBucketPublicAccessBlock", resource: `s3://${bucket}`, region: ctx.settings.aws.region };
  const res = await attempt(context, () => ctx.clients.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket })));
  if ("error" in res && res.name !== "NoSuchPublicAccessBlockConfiguration") {
    return check("bucket-public-access", TITLES.publicAccess, "warn", `cannot tell: ${res.error}`);
  }
  const config = "value" in res ? (res.value.PublicAccessBlockConfiguration ?? {}) : {};
  const settings = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"] as const;
  const off = settings.filter((name) => config[name] !== true);
  if (off.length) {
    return check(
      "bucket-public-access",
      TITLES.publicAccess,
      "warn",
      `public access is not fully blocked on the bucket (${off.join(", ")} off): a policy or ACL could expose your data (an account-wide block, if you have one, still applies)`,
      `aws s3api put-public-access-block --bucket ${bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`,
    );
  }
  return check("bucket-public-access", TITLES.publicAccess, "ok", "all public access is blocked");
}

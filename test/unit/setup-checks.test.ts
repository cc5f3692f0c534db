import { checkNode } from "../../src/setup/checks-node.js";
import type { ComputeEnvironmentDetail } from "@aws-sdk/client-batch";
import {
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  type LifecycleRule,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { resolveSettings } from "../../src/config/resolve.js";
import { capacityOf, serves } from "../../src/setup/capacity.js";
import type { SetupContext } from "../../src/setup/check.js";
import { checkBucket } from "../../src/setup/checks-bucket.js";
import { coveringRule } from "../../src/setup/lifecycle.js";
import { printReport } from "../../src/setup/report.js";
import { createTestOutput } from "../support/io.js";

describe("coveringRule", () => {
  const expire = (rule: Partial<LifecycleRule>): LifecycleRule => ({ ID: "r", Status: "Enabled", Expiration: { Days: 30 }, ...rule });

  it("accepts a rule for the whole bucket or for a prefix above nbatch's", () => {
    expect(coveringRule([expire({ Filter: {} })], "jobs")).toBeDefined();
    expect(coveringRule([expire({ Filter: { Prefix: "jobs/" } })], "jobs")).toBeDefined();
    expect(coveringRule([expire({ Filter: { Prefix: "jo" } })], "jobs/lab")).toBeDefined();
    expect(coveringRule([expire({ Prefix: "jobs/" })], "jobs")).toBeDefined();
    expect(coveringRule([expire({ Filter: { And: { Prefix: "jobs/" } } })], "jobs")).toBeDefined();
  });

  it("rejects rules that leave some of nbatch's objects forever", () => {
    expect(coveringRule([expire({ Filter: { Prefix: "jobs/runs/" } })], "jobs")).toBeUndefined();
    expect(coveringRule([expire({ Filter: { Prefix: "jobs/" } })], "")).toBeUndefined();
    expect(coveringRule([expire({ Status: "Disabled" })], "jobs")).toBeUndefined();
    expect(coveringRule([expire({ Expiration: undefined, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })], "")).toBeUndefined();
    expect(coveringRule([expire({ Filter: { Tag: { Key: "tmp", Value: "1" } } })], "")).toBeUndefined();
    expect(coveringRule([expire({ Filter: { ObjectSizeGreaterThan: 1_000_000 } })], "")).toBeUndefined();
    expect(coveringRule([expire({ Filter: { And: { Prefix: "", Tags: [{ Key: "tmp", Value: "1" }] } } })], "")).toBeUndefined();
  });
});

describe("capacityOf", () => {
  const ce = (computeResources: ComputeEnvironmentDetail["computeResources"], type: "MANAGED" | "UNMANAGED" = "MANAGED") =>
    ({ computeEnvironmentName: "ce", type, computeResources }) as ComputeEnvironmentDetail;
  const ec2 = (instanceTypes: string[] | undefined, maxvCpus = 64) => ce({ type: "EC2", minvCpus: 0, maxvCpus, instanceTypes, subnets: [] });

  it("sizes one instance of a named size", () => {
    expect(capacityOf(ec2(["r5.4xlarge"]))).toEqual({ vcpus: 16, memoryMiB: 128 * 1024 });
    expect(capacityOf(ec2(["c5.large", "m5.xlarge"]))).toEqual({ vcpus: 4, memoryMiB: 16 * 1024 });
  });

  it("lets a family or alias grow up to maxvCpus", () => {
    expect(capacityOf(ec2(["m5"], 32))).toEqual({ vcpus: 32, memoryMiB: 128 * 1024 });
    expect(capacityOf(ec2(["optimal"], 8))).toEqual({ vcpus: 8, memoryMiB: 64 * 1024 });
    expect(capacityOf(ec2(undefined, 8))).toEqual({ vcpus: 8, memoryMiB: 64 * 1024 });
    expect(capacityOf(ec2(["r5.24xlarge"], 16))!.vcpus).toBe(16);
  });

  it("tells GPU and Graviton instance types, and what Fargate offers", () => {
    expect(serves(ec2(["g5.xlarge", "m5"]), { gpus: 1 })).toBe(true);
    expect(serves(ec2(["m5", "c6i"]), { gpus: 1 })).toBe(false);
    expect(serves(ec2(["m6g", "c7gn.large"]), { arch: "arm64" })).toBe(true);
    expect(serves(ec2(["m6g"]), { arch: "x86_64" })).toBe(false);
    expect(serves(ec2(["optimal"]), { arch: "x86_64" })).toBe(true);
    expect(serves(ec2(["default_arm64"]), { arch: "arm64" })).toBe(true);
    expect(serves(ce({ type: "FARGATE", maxvCpus: 16, subnets: [] }), { arch: "arm64" })).toBe(true);
    expect(serves(ce({ type: "FARGATE", maxvCpus: 16, subnets: [] }), { gpus: 1 })).toBe(false);
  });

  it("knows Fargate's limits, and admits what it does not know", () => {
    expect(capacityOf(ce({ type: "FARGATE_SPOT", maxvCpus: 256, subnets: [] }))).toEqual({ vcpus: 16, memoryMiB: 120 * 1024 });
    expect(capacityOf(ec2(["u-6tb1.metal"]))).toEqual({ vcpus: 64 });
    expect(capacityOf(ce(undefined, "UNMANAGED"))).toBeUndefined();
  });
});

describe("checkBucket", () => {
  const s3 = mockClient(S3Client);
  const ctx = (): SetupContext => ({
    settings: resolveSettings({ flags: { "aws-batch.s3-bucket": "s3://lab/jobs" }, region: "us-east-1", env: { NBATCH_CONFIG: "/nonexistent" } }),
    clients: { s3: new S3Client({ region: "us-east-1" }), batch: undefined!, logs: undefined!, sts: undefined! },
    probeId: "probe",
    share: "ada",
  });
  const denied = () => Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });

  beforeEach(() => {
    s3.reset();
    s3.on(HeadBucketCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    s3.on(GetBucketLocationCommand).resolves({});
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [{ ID: "expire", Status: "Enabled", Filter: {}, Expiration: { Days: 7 } }] });
    s3.on(GetBucketVersioningCommand).resolves({});
    s3.on(GetBucketEncryptionCommand).resolves({ ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms" } }] } });
    s3.on(GetPublicAccessBlockCommand).resolves({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    });
  });

  it("writes and deletes a probe object under the prefix", async () => {
    const results = await checkBucket(ctx());
    expect(results.map((r) => r.status)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({ Bucket: "lab", Key: "jobs/check-setup/probe.txt" });
    expect(s3.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: "lab", Key: "jobs/check-setup/probe.txt" });
  });

  it("fails when the bucket cannot be written, and skips the rest", async () => {
    s3.on(PutObjectCommand).rejects(denied());
    const [access, ...rest] = await checkBucket(ctx());
    expect(access).toMatchObject({ status: "fail", detail: "access denied: s3:PutObject on s3://lab/jobs/check-setup/probe.txt; ask your AWS administrator to grant it" });
    expect(rest.map((r) => r.status)).toEqual(["skip", "skip", "skip"]);
  });

  it("warns, and says it cannot tell, when reading a setting is denied", async () => {
    s3.on(GetBucketLifecycleConfigurationCommand).rejects(denied());
    const lifecycle = (await checkBucket(ctx()))[1]!;
    expect(lifecycle).toMatchObject({ status: "warn", detail: "cannot tell: access denied: s3:GetLifecycleConfiguration on s3://lab; ask your AWS administrator to grant it" });
  });

  it("warns about a bucket in another region than the jobs", async () => {
    s3.on(GetBucketLocationCommand).resolves({ LocationConstraint: "eu-west-1" });
    const access = (await checkBucket(ctx()))[0]!;
    expect(access.status).toBe("warn");
    expect(access.detail).toMatch(/the bucket is in eu-west-1 and jobs run in us-east-1/);
  });

  it("warns when versioning keeps expired objects as old versions", async () => {
    s3.on(GetBucketVersioningCommand).resolves({ Status: "Enabled" });
    const lifecycle = (await checkBucket(ctx()))[1]!;
    expect(lifecycle).toMatchObject({ status: "warn", detail: "rule expire expires objects in the whole bucket after 7 days, but versioning is on and old versions never expire" });
  });
});

describe("printReport", () => {
  const results = [
    { id: "a", title: "a", status: "ok" as const, detail: "fine" },
    { id: "b", title: "bee", status: "fail" as const, detail: "broken", hint: "mend it" },
  ];

  it("keeps the symbols in plain text, and colours them only on a terminal", () => {
    const plain = createTestOutput();
    printReport(plain, "Checking", results);
    expect(plain.stdoutText()).toBe("Checking\n✔ a    fine\n✘ bee  broken\n       fix: mend it\n1 required check failed: fix the ✘ lines first.\n");
    const tty = createTestOutput({ tty: true });
    printReport(tty, "Checking", results);
    expect(tty.stdoutText()).toContain("\x1b[31m✘\x1b[0m bee");
    for (const env of [{ NO_COLOR: "1" }, { CLICOLOR: "0" }, { TERM: "dumb" }] as Record<string, string>[]) {
      const noColor = createTestOutput({ tty: true, env });
      printReport(noColor, "Checking", results);
      expect(noColor.stdoutText(), JSON.stringify(env)).not.toContain("\x1b[");
    }
    const forced = createTestOutput({ env: { CLICOLOR_FORCE: "1" } });
    printReport(forced, "Checking", results);
    expect(forced.stdoutText()).toContain("\x1b[31m✘\x1b[0m bee");
  });
});

describe("checkNode", () => {
  it("warns on a Node line past its end of life, and is fine on a maintained one", () => {
    const day = new Date("2026-12-01T00:00:00Z");
    expect(checkNode("v20.20.2", day)).toMatchObject({ id: "node", status: "warn", detail: expect.stringMatching(/end of life on 2026-04-30.*need Node 22/) });
    expect(checkNode("v24.22.3", day)).toMatchObject({ status: "ok", detail: "v24.22.3, maintained until 2028-04-30" });
    expect(checkNode("v20.20.2", new Date("2026-01-01T00:00:00Z")).status).toBe("ok");
  });
});

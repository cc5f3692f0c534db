import { CreateLogGroupCommand, PutRetentionPolicyCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutPublicAccessBlockCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBucket, listKeys, logs, s3, uniqueBucketName } from "../support/aws.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

/** The output line of one check: its symbol, title and detail. */
function line(stdout: string, title: string): string {
  const found = stdout.split("\n").find((l) => new RegExp(`^[✔⚠✘-] ${title}  `).test(l));
  if (!found) throw new Error(`no "${title}" line in:\n${stdout}`);
  return found;
}

/** The fix line printed under a check. */
function fixAfter(stdout: string, title: string): string {
  const lines = stdout.split("\n");
  return lines[lines.indexOf(line(stdout, title)) + 1]!.trim();
}

/** The node check warns on a Node line past its end of life (Node 20 today), and is fine on the others. */
const nodeWarns = Number(process.versions.node.split(".")[0]) < 22;
const node = nodeWarns ? "warn" : "ok";

describeWithMoto("nbatch check-setup --aws-batch", () => {
  let w: World;
  let good: Record<string, string>;
  let broken: Record<string, string>;
  const suffix = uniqueBucketName("x").slice(2);
  const goodLogGroup = `/nbatch/good-${suffix}`;
  const brokenLogGroup = `/nbatch/broken-${suffix}`;

  beforeAll(async () => {
    w = await startWorld();
    const goodBucket = uniqueBucketName("good");
    await createBucket(goodBucket);
    const client = s3();
    await client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: goodBucket,
        LifecycleConfiguration: { Rules: [{ ID: "nbatch-expire", Status: "Enabled", Filter: { Prefix: "jobs/" }, Expiration: { Days: 30 } }] },
      }),
    );
    await client.send(
      new PutBucketEncryptionCommand({
        Bucket: goodBucket,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      }),
    );
    await client.send(
      new PutPublicAccessBlockCommand({
        Bucket: goodBucket,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      }),
    );
    client.destroy();
    const logsClient = logs();
    await logsClient.send(new CreateLogGroupCommand({ logGroupName: goodLogGroup }));
    await logsClient.send(new PutRetentionPolicyCommand({ logGroupName: goodLogGroup, retentionInDays: 30 }));
    await logsClient.send(new CreateLogGroupCommand({ logGroupName: brokenLogGroup }));
    logsClient.destroy();

    const computeResources = (minvCpus: number) => ({
      type: "SPOT" as const,
      allocationStrategy: "SPOT_PRICE_CAPACITY_OPTIMIZED" as const,
      minvCpus,
      maxvCpus: 64,
      instanceTypes: ["m5", "c5"],
      subnets: ["subnet-1"],
      instanceRole: "ecsInstanceRole",
    });
    await w.executor.createComputeEnvironment({ computeEnvironmentName: "good-ce", type: "MANAGED", computeResources: computeResources(0) });
    await w.executor.createComputeEnvironment({ computeEnvironmentName: "busy-ce", type: "MANAGED", computeResources: computeResources(4) });
    await w.executor.createQueue("good-queue", { computeEnvironments: ["good-ce"] });
    await w.executor.createQueue("broken-queue", { state: "DISABLED", computeEnvironments: ["busy-ce"] });
    await w.executor.registerJobDefinition({
      jobDefinitionName: "good-job",
      type: "container",
      containerProperties: {
        image: "example/nbatch:1",
        jobRoleArn: "arn:aws:iam::123456789012:role/nbatch-job-role",
        resourceRequirements: [
          { type: "VCPU", value: "2" },
          { type: "MEMORY", value: "4096" },
        ],
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": goodLogGroup } },
      },
      timeout: { attemptDurationSeconds: 86400 },
      retryStrategy: { attempts: 3 },
    });
    await w.executor.registerJobDefinition({
      jobDefinitionName: "bare-job",
      type: "container",
      containerProperties: { image: "example/bare:1", logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": brokenLogGroup } } },
    });
    good = { ...w.env, NBATCH_AWS_BATCH_S3_BUCKET: `s3://${goodBucket}/jobs`, NBATCH_AWS_BATCH_QUEUE: "good-queue", NBATCH_AWS_BATCH_JOB: "good-job" };
    // w.bucket is a bare bucket: no lifecycle, encryption or public access block.
    broken = { ...w.env, NBATCH_AWS_BATCH_QUEUE: "broken-queue", NBATCH_AWS_BATCH_JOB: "bare-job" };
  });
  afterAll(() => w?.stop());

  it("passes every check of a good setup, and exits 0", async () => {
    const r = await w.nbatch(["check-setup", "--aws-batch"], { env: good });
    expect(r.stderr).toBe("");
    expect(line(r.stdout, "credentials")).toMatch(/^✔ .*arn:aws:sts::123456789012:user\/moto \(account 123456789012/);
    expect(line(r.stdout, "region")).toMatch(/^✔ .*us-east-1 \(from AWS_REGION\)/);
    expect(line(r.stdout, "bucket")).toMatch(/^✔ .*s3:\/\/good-[0-9a-f]+\/jobs is reachable and writable/);
    expect(line(r.stdout, "bucket lifecycle")).toMatch(/^✔ .*rule nbatch-expire expires objects under jobs\/ after 30 days/);
    expect(line(r.stdout, "bucket encryption")).toMatch(/^✔ .*AES256/);
    expect(line(r.stdout, "public access")).toMatch(/^✔ .*all public access is blocked/);
    expect(line(r.stdout, "job queue")).toMatch(/^✔ .*good-queue is ENABLED and VALID/);
    expect(line(r.stdout, "compute environments")).toMatch(/^✔ .*good-ce \(SPOT, 0-64 vCPUs, SPOT_PRICE_CAPACITY_OPTIMIZED, m5 c5\); fits a job of 2 vCPUs and 4 GiB/);
    expect(line(r.stdout, "job definition")).toMatch(/^✔ .*good-job:1 is ACTIVE, image example\/nbatch:1, timeout 24 hours, up to 3 attempts, job role nbatch-job-role/);
    expect(line(r.stdout, "log group")).toMatch(new RegExp(`^✔ .*${goodLogGroup} keeps logs for 30 days`));
    expect(line(r.stdout, "node")).toMatch(nodeWarns ? /^⚠ .*v20\.\d+\.\d+: this line reached its end of life on 2026-04-30/ : /^✔ /);
    expect(r.stdout.replace(/^⚠ node .*\n.*fix:.*\n/m, "")).not.toMatch(/^[⚠✘]/m);
    expect(r.stdout).toContain(nodeWarns ? "Ready, with 1 warning" : "Ready: every check passed.");
    expect(r.code).toBe(0);
    // The write probe cleans up after itself.
    expect(await listKeys(good.NBATCH_AWS_BATCH_S3_BUCKET!.slice(5, -5))).toEqual([]);
  });

  it("flags each problem of a broken setup with a fix, and exits 1", async () => {
    const r = await w.nbatch(["check-setup", "--aws-batch"], { env: broken });
    expect(line(r.stdout, "bucket")).toMatch(/^✔ /);
    expect(line(r.stdout, "bucket lifecycle")).toMatch(/^⚠ .*no enabled lifecycle rule expires objects under jobs\/: inputs and results are kept, and billed, forever/);
    expect(fixAfter(r.stdout, "bucket lifecycle")).toMatch(/^fix: aws s3api put-bucket-lifecycle-configuration --bucket nbatch-test-\w+ .*"Prefix":"jobs\/".*"Days":30/);
    expect(line(r.stdout, "bucket encryption")).toMatch(/^⚠ .*no default encryption/);
    expect(fixAfter(r.stdout, "bucket encryption")).toMatch(/^fix: aws s3api put-bucket-encryption --bucket nbatch-test-/);
    expect(line(r.stdout, "public access")).toMatch(/^⚠ .*not fully blocked .*BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off/);
    expect(fixAfter(r.stdout, "public access")).toMatch(/^fix: aws s3api put-public-access-block /);
    expect(line(r.stdout, "job queue")).toMatch(/^✘ .*broken-queue is DISABLED: it accepts no jobs/);
    expect(fixAfter(r.stdout, "job queue")).toBe("fix: aws batch update-job-queue --job-queue broken-queue --state ENABLED");
    expect(line(r.stdout, "compute environments")).toMatch(/^⚠ .*busy-ce \(SPOT, 4-64 vCPUs.*busy-ce keeps instances running while idle, which costs money/);
    expect(fixAfter(r.stdout, "compute environments")).toMatch(/--compute-environment busy-ce --compute-resources minvCpus=0/);
    expect(line(r.stdout, "job definition")).toMatch(/^⚠ .*bare-job:1 is ACTIVE, image example\/bare:1, no timeout, no retries, no job role: a stuck job runs/);
    expect(line(r.stdout, "log group")).toMatch(new RegExp(`^⚠ .*${brokenLogGroup} keeps logs forever`));
    expect(fixAfter(r.stdout, "log group")).toBe(`fix: aws logs put-retention-policy --log-group-name ${brokenLogGroup} --retention-in-days 30`);
    expect(r.stdout).toContain(`1 required check failed and ${nodeWarns ? 7 : 6} warnings: fix the ✘ lines first.`);
    expect(r.code).toBe(1);
  });

  it("reports missing resources as failures and skips what depends on them, in --json too", async () => {
    const env = { ...broken, NBATCH_AWS_BATCH_S3_BUCKET: "s3://no-such-bucket-nbatch", NBATCH_AWS_BATCH_QUEUE: "no-queue", NBATCH_AWS_BATCH_JOB: "no-job" };
    const r = await w.nbatch(["check-setup", "--aws-batch", "--json"], { env });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: false, runner: "aws-batch", region: "us-east-1", summary: { ok: nodeWarns ? 2 : 3, warn: nodeWarns ? 1 : 0, fail: 3, skip: 5 } });
    const status = Object.fromEntries(report.checks.map((c: { id: string; status: string }) => [c.id, c.status]));
    expect(status).toEqual({
      node,
      credentials: "ok",
      region: "ok",
      bucket: "fail",
      "bucket-lifecycle": "skip",
      "bucket-encryption": "skip",
      "bucket-public-access": "skip",
      queue: "fail",
      "compute-environments": "skip",
      "job-definition": "fail",
      "log-group": "skip",
    });
    const byId = (id: string) => report.checks.find((c: { id: string }) => c.id === id);
    expect(byId("bucket").detail).toBe("bucket no-such-bucket-nbatch does not exist (region us-east-1): create it or fix the s3-bucket setting");
    expect(byId("queue").detail).toBe("job queue no-queue not found in us-east-1");
    expect(byId("job-definition").detail).toMatch(/^job definition "no-job" not found/);
    expect(byId("credentials").facts).toEqual({ account: "123456789012", arn: "arn:aws:sts::123456789012:user/moto" });
  });

  it("fails a job too big for every compute environment", async () => {
    const r = await w.nbatch(["check-setup", "--aws-batch", "--aws-batch-cpus", "128", "--json"], { env: good });
    const compute = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === "compute-environments");
    expect(compute.status).toBe("fail");
    expect(compute.detail).toMatch(/a job of 128 vCPUs and 4 GiB never starts: the most any compute environment can give one job is 64 vCPUs/);
    expect(r.code).toBe(1);
  });

  it("--gpus and --arch ask whether the queue's instance types have them", async () => {
    const gpus = await w.nbatch(["check-setup", "--aws-batch", "--gpus", "1", "--json"], { env: good });
    const compute = JSON.parse(gpus.stdout).checks.find((c: { id: string }) => c.id === "compute-environments");
    expect(compute.status).toBe("fail");
    expect(compute.detail).toMatch(/none of them can run a job with 1 GPUs$/);
    expect(compute.hint).toMatch(/GPU instance types/);
    expect(gpus.code).toBe(1);
    const x86 = await w.nbatch(["check-setup", "--aws-batch", "--arch", "x86_64", "--json"], { env: good });
    expect(JSON.parse(x86.stdout).checks.find((c: { id: string }) => c.id === "compute-environments").status).toBe("ok");
    const arm = await w.nbatch(["check-setup", "--aws-batch", "--arch", "arm64", "--json"], { env: good });
    expect(JSON.parse(arm.stdout).checks.find((c: { id: string }) => c.id === "compute-environments").detail).toMatch(/with arm64$/);
  });

  it("tells how the queue schedules, the share jobs go with, and what it does with jobs that wait too long", async () => {
    await w.executor.createQueue("fair-queue", {
      computeEnvironments: ["good-ce"],
      schedulingPolicyArn: "arn:aws:batch:us-east-1:123456789012:scheduling-policy/lab",
      jobStateTimeLimitActions: [{ reason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", state: "RUNNABLE", maxTimeSeconds: 14400, action: "CANCEL" }],
    });
    const r = await w.nbatch(["check-setup", "--aws-batch", "--share", "genomics"], { env: { ...good, NBATCH_AWS_BATCH_QUEUE: "fair-queue" } });
    expect(line(r.stdout, "job queue")).toContain(
      "fair-queue is ENABLED and VALID; fair share (lab), jobs go with share genomics; jobs stuck RUNNABLE for MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT: cancel after 4 hours",
    );
    const fifo = await w.nbatch(["check-setup", "--aws-batch"], { env: good });
    expect(line(fifo.stdout, "job queue")).toContain("first in, first out; no jobStateTimeLimitActions");
  });

  it("fails on missing credentials and skips everything that needs them", async () => {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...rest } = good;
    const env = { ...rest, AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials", AWS_CONFIG_FILE: "/nonexistent/config" };
    const r = await w.nbatch(["check-setup", "--aws-batch"], { env });
    expect(line(r.stdout, "credentials")).toMatch(/^✘ .*no AWS credentials found/);
    expect(line(r.stdout, "job queue")).toMatch(/^- .*skipped: needs working credentials/);
    expect(r.code).toBe(1);
  });

  it("warns when no region is configured", async () => {
    const { AWS_REGION, ...rest } = good;
    const r = await w.nbatch(["check-setup", "--aws-batch", "--json"], { env: { ...rest, AWS_CONFIG_FILE: "/nonexistent/config" } });
    const region = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === "region");
    expect(region).toMatchObject({ status: "warn", detail: "us-east-1: no region is configured, so nbatch uses the default" });
    expect(r.code).toBe(0);
  });

  it("needs no setup for the local runner", async () => {
    const r = await w.nbatch(["check-setup"], { env: good });
    expect(r.stdout).toMatch(/^✔ runner {2}local: jobs run on this machine/m);
    expect(r.code).toBe(0);
  });
});

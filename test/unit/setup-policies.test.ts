import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { bareName, DEFAULT_NAMES, POLICIES, policyText, userPolicy, type PolicyNames } from "../../src/setup/policies.js";
import { repoRoot } from "../support/cli.js";
import { createTestOutput, testContext } from "../support/io.js";

/** docs/iam/ is for an administrator to edit: an obvious placeholder bucket, any region and account. */
const DOCS: PolicyNames = {
  ...DEFAULT_NAMES,
  bucket: { bucket: "YOUR-BUCKET", prefix: "jobs" },
  queue: "nbatch-job-queue",
  job: "nbatch-job",
  region: "*",
  account: "*",
};

describe("docs/iam", () => {
  // vitest -u rewrites the files after a change to src/setup/policies.ts; CI fails if they drift.
  for (const policy of POLICIES) {
    it(`${policy.file} is what src/setup/policies.ts makes`, async () => {
      await expect(policyText(policy.build(DOCS))).toMatchFileSnapshot(join(repoRoot, "docs", "iam", policy.file));
    });
  }
});

describe("nbatch setup aws-batch", () => {
  const run = async (...args: string[]) => {
    const io = createTestOutput();
    const code = await main(["setup", "aws-batch", ...args], testContext({ HOME: "/nonexistent", NBATCH_CONFIG: "/nonexistent/config" }, { out: io }));
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };

  it("prints every policy for the given bucket, prefix, queue and job definition", async () => {
    const r = await run("--print-policies", "--aws-batch-s3-bucket", "s3://lab-data/nb", "--aws-batch-queue", "q", "--aws-batch-job", "j");
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^# .*$/gm)).toEqual([
      "# user-policy.json: for users who submit jobs (attach to their group)",
      "# job-role-policy.json: for the job role (nbatch-job-role)",
      "# secrets-policy.json: optional, for the execution role (nbatch-execution-role) when jobs use --secret",
    ]);
    expect(r.stdout).toContain('"arn:aws:s3:::lab-data/nb/*"');
    expect(r.stdout).toContain('"arn:aws:batch:*:*:job-queue/q"');
  });

  it("prints one policy as bare JSON", async () => {
    const r = await run("--print-policies", "--policy", "user", "--aws-batch-s3-bucket", "lab-data", "--log-group", "/aws/batch/job");
    const names = { ...DOCS, bucket: { bucket: "lab-data", prefix: "" }, logGroup: "/aws/batch/job" };
    expect(JSON.parse(r.stdout)).toEqual(userPolicy(names));
    expect(r.stdout).toContain('"arn:aws:s3:::lab-data/*"');
  });

  it("needs a bucket: there is no default", async () => {
    const r = await run("--print-policies");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nbatch: error: no S3 bucket configured: pass --aws-batch-s3-bucket/);
  });

  it("prints the CloudFormation template of docs/", async () => {
    const r = await run("--print-template");
    expect(r.stdout).toBe(await readFile(join(repoRoot, "docs", "cloudformation.yaml"), "utf8"));
  });

  it("says what it can do when asked for nothing", async () => {
    expect(await run()).toMatchObject({ code: 2, stderr: "nbatch: error: nbatch setup aws-batch needs --print-policies or --print-template; the step-by-step guide is docs/aws-setup.md\n" });
  });
});

describe("policies for a job given as name:revision or ARN", () => {
  it("name the bare job definition and queue", () => {
    expect(bareName("nbatch-job:3")).toBe("nbatch-job");
    expect(bareName("arn:aws:batch:us-east-1:123456789012:job-definition/nbatch-job:7")).toBe("nbatch-job");
    expect(bareName("arn:aws:batch:eu-west-1:123456789012:job-queue/lab-queue")).toBe("lab-queue");
    expect(bareName("plain")).toBe("plain");
  });
});

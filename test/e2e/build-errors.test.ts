import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listKeys } from "../support/aws.js";
import type { CliResult } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

/** A user error: one line on stderr naming the problem, nothing on stdout, no stack, no warning. */
function expectOneLineError(r: CliResult, code: number, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(/^nbatch: error: /);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(code);
}

describeWithMoto("nbatch build: mistakes fail fast, with one line, and leave nothing behind", () => {
  let w: World;
  let dir: string;
  /** Each case's result and how long it took, all run at once in beforeAll. */
  const results: Record<string, CliResult & { ms: number }> = {};
  const cases: Record<string, (dir: string) => { args: string[]; env?: Record<string, string> }> = {
    noBucket: (d) => ({ args: ["build", "--aws-batch", d, "--", "true"], env: withoutBucket() }),
    unknownBucket: (d) => ({ args: ["build", "--aws-batch", "--aws-batch-s3-bucket", "s3://nbatch-no-such-bucket-e2e/x", d, "--", "true"] }),
    unknownQueue: (d) => ({ args: ["build", "--aws-batch", "--aws-batch-queue", "no-such-queue", d, "--", "true"] }),
    disabledQueue: (d) => ({ args: ["build", "--aws-batch", "--aws-batch-queue", "disabled-queue", d, "--", "true"] }),
    unknownJob: (d) => ({ args: ["build", "--aws-batch", "--aws-batch-job", "no-such-job", d, "--", "true"] }),
    missingDir: () => ({ args: ["build", "--aws-batch", join(dir, "no-such-dir"), "--", "true"] }),
    fileNotDir: () => ({ args: ["build", "--aws-batch", join(dir, "a-file.txt"), "--", "true"] }),
    badMemoryFlag: (d) => ({ args: ["build", "--aws-batch", "--aws-batch-memory", "lots", d, "--", "true"] }),
    badMemoryEnv: (d) => ({ args: ["build", "--aws-batch", d, "--", "true"], env: { ...w.env, NBATCH_AWS_BATCH_MEMORY: "15 parsecs" } }),
  };
  const withoutBucket = () => {
    const { NBATCH_AWS_BATCH_S3_BUCKET: _, ...env } = w.env;
    return env;
  };

  beforeAll(async () => {
    w = await startWorld();
    await w.executor.createQueue("disabled-queue", { state: "DISABLED" });
    dir = await w.makeDir("inputs", { "data.txt": "data" });
    await writeFile(join(dir, "a-file.txt"), "not a directory");
    await Promise.all(
      Object.entries(cases).map(async ([name, make]) => {
        const { args, env } = make(dir);
        const started = Date.now();
        const r = await w.nbatch(args, env ? { env } : {});
        results[name] = { ...r, ms: Date.now() - started };
      }),
    );
  });
  afterAll(() => w?.stop());

  it("submits nothing and uploads nothing in any of these cases", async () => {
    expect(w.submits()).toEqual([]);
    expect(await listKeys(w.bucket)).toEqual([]);
  });

  it("never shows a stack trace or a Node or SDK warning", () => {
    for (const [name, r] of Object.entries(results)) {
      expect([name, r.stdout + r.stderr]).not.toEqual([name, expect.stringMatching(/ {4}at |Warning|warning:/)]);
    }
  });

  it("names the three ways to set a bucket when none is configured", () => {
    const r = results.noBucket!;
    expectOneLineError(r, 1, /no S3 bucket configured: pass --aws-batch-s3-bucket, set NBATCH_AWS_BATCH_S3_BUCKET, or add "s3-bucket = .*" under \[aws-batch\] in ~\/\.config\/nbatch\/config/);
  });

  it.each([
    ["unknownBucket", /bucket nbatch-no-such-bucket-e2e does not exist \(region us-east-1\): create it or fix the s3-bucket setting/],
    ["unknownQueue", /job queue "no-such-queue" not found in us-east-1: check the queue setting \(--aws-batch-queue, NBATCH_AWS_BATCH_QUEUE or \[aws-batch\] queue\)/],
    ["disabledQueue", /job queue "disabled-queue" is DISABLED: enable it \(aws batch update-job-queue --job-queue disabled-queue --state ENABLED\) or use another queue/],
    ["unknownJob", /job definition "no-such-job" not found \(no ACTIVE revision\) in us-east-1: check the job setting \(--aws-batch-job, NBATCH_AWS_BATCH_JOB or \[aws-batch\] job\)/],
  ])("fails within seconds when AWS says no: %s", (name, message) => {
    const r = results[name]!;
    expectOneLineError(r, 1, message);
    expect(r.ms).toBeLessThan(8000);
  });

  it("says a directory is missing, or is a file", () => {
    expectOneLineError(results.missingDir!, 1, /no-such-dir: no such directory$/m);
    expectOneLineError(results.fileNotDir!, 1, /a-file\.txt is not a directory/);
  });

  it("treats a bad flag value as a usage error (exit 2) and a bad environment value as a user error (exit 1)", () => {
    expectOneLineError(results.badMemoryFlag!, 2, /invalid memory "lots" \(from --aws-batch-memory\): use a size such as 15GiB/);
    expectOneLineError(results.badMemoryEnv!, 1, /invalid memory "15 parsecs" \(from NBATCH_AWS_BATCH_MEMORY\)/);
  });
});

import { randomBytes } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { uniqueBucketName } from "../support/aws.js";
import { describeWithMoto } from "../support/moto.js";
import { startS3rver, type SecondS3 } from "../support/s3rver.js";
import { startWorld, type World } from "../support/world.js";

/**
 * The whole round trip with S3 served by s3rver instead of moto, for the CLI
 * and the job's agent alike; Batch and the logs stay with the test executor
 * and moto.
 */
describeWithMoto("the round trip on a second S3 implementation (s3rver)", () => {
  let w: World;
  let s3: SecondS3;
  let env: Record<string, string>;
  const bucket = uniqueBucketName("second");

  beforeAll(async () => {
    w = await startWorld();
    s3 = await startS3rver([bucket]);
    // s3rver checks signatures, with keys of its own: the CLI's, and the job role's in the job.
    const keys = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };
    env = { ...w.env, ...keys, AWS_ENDPOINT_URL_S3: s3.endpoint, NBATCH_AWS_BATCH_S3_BUCKET: `s3://${bucket}/jobs` };
    await w.executor.registerJobDefinition({
      jobDefinitionName: "s3rver-job",
      type: "container",
      containerProperties: {
        image: "nbatch-test",
        command: ["true"],
        environment: Object.entries({ ...keys, AWS_ENDPOINT_URL_S3: s3.endpoint }).map(([name, value]) => ({ name, value })),
      },
    });
  });
  afterAll(async () => {
    await w?.stop();
    await s3?.stop();
  });

  it("uploads, runs, and brings results back with their modes", async () => {
    const dir = await w.makeDir("second-s3", {
      "data.txt": "c\nb\na\n".repeat(200_000),
      "run.sh": { text: "#!/bin/sh\nmkdir -p out\nsort data.txt | uniq > out/sorted.txt\nchmod 600 out/sorted.txt\necho sorted\n", mode: 0o755 },
    });
    // Past one part: the upload is a multipart upload.
    await writeFile(join(dir, "blob.bin"), randomBytes(20 * 1024 * 1024));
    const args = ["build", "--aws-batch", "--aws-batch-job", "s3rver-job", dir, "--", "./run.sh"];
    const r = await w.nbatch(args, { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("] sorted");
    expect(await readFile(join(dir, "out/sorted.txt"), "utf8")).toBe("a\nb\nc\n");
    expect((await stat(join(dir, "out/sorted.txt"))).mode & 0o777).toBe(0o600);
  });

  it("does not upload an unchanged directory twice", async () => {
    const dir = await w.makeDir("second-s3-same", { "a.txt": "a\n" });
    const args = ["build", "--aws-batch", "--aws-batch-job", "s3rver-job", dir, "--", "true"];
    expect((await w.nbatch(args, { env })).stderr).toMatch(/Uploading /);
    const again = await w.nbatch(args, { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/Inputs unchanged .*: already at s3:\/\//);
  });

  it("fetches only the selected part of the results with ranged reads", async () => {
    const dir = await w.makeDir("second-s3-select", {
      "make.sh": { text: "#!/bin/sh\nmkdir -p out\nhead -c 20000000 /dev/urandom > out/big.bin\necho small > out/small.txt\n", mode: 0o755 },
    });
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "s3rver-job", "--download", "out/small.txt", dir, "--", "./make.sh"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, "out/small.txt"), "utf8")).toBe("small\n");
    await expect(stat(join(dir, "out/big.bin"))).rejects.toThrow();
  });
});

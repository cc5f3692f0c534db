import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBucket, listKeys, logLines, uniqueBucketName } from "../support/aws.js";
import type { CliResult } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

// The runs of each suite are independent, so each suite starts them all at
// once in beforeAll and its tests wait for the one they check.

const LOG_LINE = /^\[batch\] \[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}([+-]\d\d:\d\d))\] (.*)$/;

/** The messages of the `[batch] [time] message` lines of an output, in order, without the agent's own. */
const logMessages = (stdout: string) =>
  stdout.split("\n").flatMap((l) => LOG_LINE.exec(l)?.[3] ?? []).filter((m) => !m.startsWith("nbatch agent:"));

const envOf = (submit: any, name: string): string | undefined =>
  submit.containerOverrides.environment.find((e: { name: string }) => e.name === name)?.value;

/** The world's environment without one of its variables. */
function without(w: World, name: string): Record<string, string> {
  const { [name]: _, ...env } = w.env;
  return env;
}

describeWithMoto("nbatch build: flag > environment > config file, for every setting", () => {
  let w: World;
  const sources = ["file", "env", "flag"] as const;
  type Source = (typeof sources)[number];
  const bucket = { file: uniqueBucketName("nb-file"), env: uniqueBucketName("nb-env"), flag: uniqueBucketName("nb-flag") };
  const expected = {
    file: { cpus: "1", memory: "1024" }, // 1GiB
    env: { cpus: "2", memory: "1954" }, // 2048MB, rounded up to whole MiB
    flag: { cpus: "3", memory: "3072" }, // 3GiB
  };
  const runs: Record<string, Promise<CliResult>> = {};
  const dirs: Record<string, string> = {};

  beforeAll(async () => {
    w = await startWorld();
    for (const source of sources) {
      await w.executor.createQueue(`q-${source}`);
      await w.executor.registerJobDefinition({
        jobDefinitionName: `job-${source}`,
        type: "container",
        containerProperties: { image: "nbatch-test", command: ["true"] },
      });
      await createBucket(bucket[source]);
    }
    // The default location ($XDG_CONFIG_HOME/nbatch/config), so finding the file is covered too.
    await w.writeConfig(
      [
        "[core]",
        "runner = aws-batch",
        "[aws-batch]",
        `s3-bucket = s3://${bucket.file}/file-prefix`,
        "queue = q-file",
        "job = job-file",
        "cpus = 1",
        "memory = 1GiB",
      ].join("\n"),
    );
    const base = without(w, "NBATCH_AWS_BATCH_S3_BUCKET");
    const env = {
      NBATCH_AWS_BATCH_JOB: "job-env",
      NBATCH_AWS_BATCH_QUEUE: "q-env",
      NBATCH_AWS_BATCH_S3_BUCKET: `s3://${bucket.env}/env-prefix`,
      NBATCH_AWS_BATCH_CPUS: "2",
      NBATCH_AWS_BATCH_MEMORY: "2048MB",
    };
    const empty = Object.fromEntries(Object.keys(env).map((k) => [k, ""]));
    const flags = [
      "--aws-batch-job", "job-flag",
      "--aws-batch-queue", "q-flag",
      "--aws-batch-s3-bucket", `s3://${bucket.flag}/flag-prefix`,
      "--aws-batch-cpus", "3",
      "--aws-batch-memory", "3GiB",
    ];
    // Neither --aws-batch nor --local: the runner comes from the file too.
    const plan: Record<string, { args: string[]; env: Record<string, string>; command: string[] }> = {
      file: { args: [], env: base, command: ["true"] },
      empty: { args: [], env: { ...base, ...empty }, command: ["true"] },
      env: { args: [], env: { ...base, ...env }, command: ["true"] },
      flag: { args: flags, env: { ...base, ...env }, command: ["true"] },
      local: { args: ["--local"], env: base, command: ["sh", "-c", "echo here > where.txt"] },
    };
    for (const [name, p] of Object.entries(plan)) {
      // Different contents, so each run has inputs of its own.
      dirs[name] = await w.makeDir(`from-${name}`, { "data.txt": name });
      runs[name] = w.nbatch(["build", ...p.args, dirs[name], "--", ...p.command], { env: p.env });
    }
    await Promise.allSettled(Object.values(runs));
  });
  afterAll(() => w?.stop());

  /** The run's SubmitJob went where every setting from source says, and its objects are in that bucket only. */
  async function expectSettingsFrom(run: string, source: Source) {
    const r = await runs[run]!;
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const submits = w.submits().filter((s) => s.jobName.startsWith(`nbatch-from-${run}-`));
    expect(submits).toHaveLength(1);
    const submit = submits[0];
    expect(submit.jobQueue).toBe(`q-${source}`);
    expect(submit.jobDefinition).toMatch(new RegExp(`:job-definition/job-${source}:1$`));
    expect(submit.containerOverrides.resourceRequirements).toEqual([
      { type: "VCPU", value: expected[source].cpus },
      { type: "MEMORY", value: expected[source].memory },
    ]);
    const runId = envOf(submit, "NBATCH_RUN_ID")!;
    const inputsUrl = envOf(submit, "NBATCH_INPUTS_URL")!;
    const prefix = `s3://${bucket[source]}/${source}-prefix/`;
    expect(inputsUrl).toMatch(new RegExp(`^${prefix}inputs/trees/[0-9a-f]{64}\\.json\\.gz$`));
    expect(envOf(submit, "NBATCH_RESULTS_URL")).toBe(`${prefix}runs/${runId}/results.zip`);
    const inputsKey = inputsUrl.slice(`s3://${bucket[source]}/`.length);
    for (const other of sources) {
      const keys = await listKeys(bucket[other]);
      const mine = keys.filter((k) => k === inputsKey || k.includes(runId));
      const pack = `${source}-prefix/inputs/packs/${runId}-${packSuffix(keys, runId)}`;
      expect([other, mine]).toEqual([other, other === source ? [`${pack}.idx.json`, `${pack}.zip`, inputsKey, `${source}-prefix/runs/${runId}/log.gz`, `${source}-prefix/runs/${runId}/results.zip`] : []]);
    }
  }

  it("takes every setting, and the aws-batch runner, from the config file", () => expectSettingsFrom("file", "file"));

  it("treats an empty environment variable as unset", () => expectSettingsFrom("empty", "file"));

  it("lets the environment beat the file for every setting", () => expectSettingsFrom("env", "env"));

  it("lets the flags beat the environment and the file for every setting", () => expectSettingsFrom("flag", "flag"));

  it("runs on this machine with --local although the file says aws-batch", async () => {
    const r = await runs.local!;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("Submitted job");
    expect(await readFile(join(dirs.local!, "where.txt"), "utf8")).toBe("here\n");
    expect(w.submits().filter((s) => s.jobName.startsWith("nbatch-from-local-"))).toEqual([]);
  });
});

describeWithMoto("nbatch build --aws-batch: bucket prefix and the job definition's log group", () => {
  let w: World;
  const group = "/nbatch-tests/custom-group";
  const numbered = Array.from({ length: 300 }, (_, i) => `line ${i + 1}`);
  let prefixDir: string;
  let started: number;
  let prefixed: Promise<CliResult>;
  let ownLogs: Promise<CliResult>;
  beforeAll(async () => {
    w = await startWorld();
    await w.executor.registerJobDefinition({
      jobDefinitionName: "job-own-logs",
      type: "container",
      containerProperties: {
        image: "nbatch-test",
        command: ["true"],
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": group, "awslogs-region": "us-east-1" } },
      },
    });
    // Its own bucket, so that nothing else can land at the root.
    const prefixBucket = uniqueBucketName("nb-prefix");
    await createBucket(prefixBucket);
    prefixDir = await w.makeDir("prefixed", { "in.txt": "in" });
    prefixed = w.nbatch(["build", "--aws-batch", "--env", "SECRET=x", prefixDir, "--", "sh", "-c", "cat in.txt > out.txt"], {
      env: { ...w.env, NBATCH_AWS_BATCH_S3_BUCKET: `s3://${prefixBucket}/deep/er/prefix/` },
    }).then((r) => Object.assign(r, { bucket: prefixBucket }));
    const logsDir = await w.makeDir("own-logs", {});
    // Three bursts, so the tail must carry on from its forward token between fetches.
    const script = "for b in 0 100 200; do i=1; while [ $i -le 100 ]; do echo line $((b+i)); i=$((i+1)); done; sleep 0.4; done";
    started = Date.now();
    ownLogs = w.nbatch(["build", "--aws-batch", "--aws-batch-job", "job-own-logs", logsDir, "--", "sh", "-c", script], {
      env: { ...w.env, TZ: "Asia/Kolkata" },
    });
    await Promise.allSettled([prefixed, ownLogs]);
  });
  afterAll(() => w?.stop());

  it("keeps every object under the bucket's key prefix", async () => {
    const r = (await prefixed) as CliResult & { bucket: string };
    expect(r.code).toBe(0);
    expect(await readFile(join(prefixDir, "out.txt"), "utf8")).toBe("in");
    const submit = w.submits().find((s) => s.jobName.startsWith("nbatch-prefixed-"));
    const runId = envOf(submit, "NBATCH_RUN_ID");
    expect(envOf(submit, "NBATCH_ENV_URL")).toBe(`s3://${r.bucket}/deep/er/prefix/runs/${runId}/env.json`);
    // The env object was read and deleted; what stays is all under the prefix.
    expect(await listKeys(r.bucket)).toEqual([
      `deep/er/prefix/inputs/packs/${runId}-${packSuffix(await listKeys(r.bucket), runId!)}.idx.json`,
      `deep/er/prefix/inputs/packs/${runId}-${packSuffix(await listKeys(r.bucket), runId!)}.zip`,
      expect.stringMatching(/^deep\/er\/prefix\/inputs\/trees\/[0-9a-f]{64}\.json\.gz$/),
      `deep/er/prefix/runs/${runId}/log.gz`,
      `deep/er/prefix/runs/${runId}/results.zip`,
    ]);
  });

  it("streams a log from the job definition's own awslogs-group, in order, nothing lost or doubled", async () => {
    const r = await ownLogs;
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(numbered);
    for (const line of r.stdout.split("\n").filter((l) => LOG_LINE.test(l))) {
      const [, time, zone] = LOG_LINE.exec(line)!;
      // Local time, in the user's zone, and close to when the line was printed.
      expect(zone).toBe("+05:30");
      expect(Math.abs(Date.parse(time!) - started)).toBeLessThan(60_000);
    }
    // The lines are in the custom group (where the executor put them), which nbatch must have read.
    const jobId = /Submitted job (\S+)/.exec(r.stderr)![1];
    const stream = w.executor.jobs().find((j) => j.jobId === jobId)!.container!.logStreamName!;
    expect((await logLines(group, stream)).filter((m) => !m.startsWith("nbatch agent:"))).toEqual(numbered);
  });
});

describeWithMoto("nbatch build --aws-batch: the region", () => {
  let w: World;
  const runs: Record<string, Promise<CliResult>> = {};
  beforeAll(async () => {
    // The executor writes job logs to moto's eu-west-1: only a CLI in that region can read them.
    w = await startWorld({ region: "eu-west-1" });
    const regionless = without(w, "AWS_REGION");
    const plan: Record<string, { args: string[]; env: Record<string, string> }> = {
      wrong: { args: [], env: { ...regionless, AWS_REGION: "us-east-1" } },
      defaultRegion: { args: [], env: { ...regionless, AWS_DEFAULT_REGION: "eu-west-1" } },
      flag: { args: ["--aws-region", "eu-west-1"], env: { ...regionless, AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-east-1" } },
    };
    for (const [name, p] of Object.entries(plan)) {
      const dir = await w.makeDir(`region-${name}`, {});
      runs[name] = w.nbatch(["build", "--aws-batch", ...p.args, dir, "--", "echo", "hello from eu-west-1"], { env: p.env });
    }
    await Promise.allSettled(Object.values(runs));
  });
  afterAll(() => w?.stop());

  it("finds no log from the wrong region (the world really tells regions apart)", async () => {
    const r = await runs.wrong!;
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual([]);
  });

  it("takes the region from AWS_DEFAULT_REGION when AWS_REGION is not set", async () => {
    const r = await runs.defaultRegion!;
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(["hello from eu-west-1"]);
  });

  it("lets --aws-region beat AWS_REGION", async () => {
    const r = await runs.flag!;
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(["hello from eu-west-1"]);
  });
});

/** The random part of the id of the run's pack among these keys. */
function packSuffix(keys: string[], runId: string): string | undefined {
  return keys.map((k) => new RegExp(`/inputs/packs/${runId}-([0-9a-f]{8})\\.zip$`).exec(k)?.[1]).find(Boolean);
}

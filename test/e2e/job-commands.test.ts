import { BatchClient, DescribeJobsCommand, SubmitJobCommand, type JobDetail } from "@aws-sdk/client-batch";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listRuns, recordRun, type RunRecord } from "../../src/history.js";
import { logLines } from "../support/aws.js";
import { spawnCli } from "../support/cli.js";
import { logGroupOf } from "../support/executor-jobs.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const LOG_LINE = /^\[batch\] \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\] /;
const logMessages = (stdout: string) => stdout.split("\n").filter((l) => LOG_LINE.test(l)).map((l) => l.replace(LOG_LINE, ""));
const jsonLines = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l));

describeWithMoto("the job commands: status, logs, cancel, ls", () => {
  let w: World;
  let batch: BatchClient;
  /** Finished jobs shared by several tests: one that succeeded with output, one that failed with code 3. */
  let ok: string;
  let failed: string;

  beforeAll(async () => {
    w = await startWorld();
    batch = new BatchClient({ endpoint: w.executor.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    [ok, failed] = await Promise.all([submit(["sh", "-c", "echo hello from the job; echo second line"]), submit(["sh", "-c", "echo failing >&2; exit 3"])]);
    await Promise.all([waitFor(ok, done), waitFor(failed, done)]);
  });
  afterAll(async () => {
    batch?.destroy();
    await w?.stop();
  });

  /** Submits a job straight to the executor: these commands act on jobs, however they were submitted. */
  async function submit(command: string[], attempts?: number): Promise<string> {
    const r = await batch.send(
      new SubmitJobCommand({
        jobName: "nbatch-jobcmd-test",
        jobQueue: w.queue,
        jobDefinition: w.job,
        containerOverrides: { command },
        retryStrategy: attempts ? { attempts } : undefined,
      }),
    );
    return r.jobId!;
  }

  const done = (j: JobDetail) => j.status === "SUCCEEDED" || j.status === "FAILED";
  const running = (j: JobDetail) => j.status === "RUNNING";

  async function waitFor(jobId: string, until: (j: JobDetail) => boolean, timeoutMs = 20_000): Promise<JobDetail> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
      const job = (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!;
      if (until(job)) return job;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`job ${jobId} did not get there within ${timeoutMs} ms`);
  }

  /** A fresh, empty run history for one test, and the environment that points nbatch at it. */
  async function history(records: Partial<RunRecord>[] = []): Promise<Record<string, string>> {
    const env = { ...w.env, XDG_STATE_HOME: await mkdtemp(join(w.home, "state-")) };
    for (const [i, r] of records.entries()) await recordRun(env, runRecord(r, i));
    return env;
  }

  function runRecord(r: Partial<RunRecord>, i: number): RunRecord {
    const runId = r.runId ?? randomUUID();
    return {
      runId,
      jobId: randomUUID(),
      jobName: `nbatch-analysis-${runId}`,
      dir: join(w.home, `analysis-${i}`),
      queue: w.queue,
      region: "us-east-1",
      bucket: `s3://${w.bucket}/jobs`,
      resultsUrl: `s3://${w.bucket}/jobs/runs/${runId}/results.zip`,
      inputsUrl: `s3://${w.bucket}/jobs/inputs/abc.zip`,
      submittedAt: Date.UTC(2026, 0, 1) + i * 60_000,
      command: ["make", "all"],
      ...r,
    };
  }

  const describeCalls = (from: number) => w.executor.requests.slice(from).filter((r) => r.operation === "DescribeJobs");

  it("status shows several jobs in a table, and as one JSON object per job", async () => {
    const r = await w.nbatch(["status", ok, failed]);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^JOB ID\s+NAME\s+STATUS\s+EXIT\s+STARTED\s+DURATION\s+WHY$/);
    expect(rows[0]).toMatch(new RegExp(`^${ok}\\s+nbatch-jobcmd-test\\s+SUCCEEDED\\s+0\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+\\d+ seconds$`));
    expect(rows[1]).toMatch(new RegExp(`^${failed}\\s+nbatch-jobcmd-test\\s+FAILED\\s+3\\s`));

    const json = await w.nbatch(["status", "--json", failed]);
    expect(json.code).toBe(0);
    const [job] = jsonLines(json.stdout);
    expect(job).toMatchObject({ jobId: failed, status: "FAILED", exitCode: 3, forgotten: false, jobName: "nbatch-jobcmd-test" });
    expect(new Date(job.startedAt).getTime()).toBeLessThanOrEqual(new Date(job.stoppedAt).getTime());
  });

  it("status asks DescribeJobs about at most 100 jobs a call, and shows forgotten runs from the history", async () => {
    const env = await history(Array.from({ length: 150 }, () => ({})));
    const records = await listRuns(env);
    const ids = [ok, ...records.map((rec) => rec.jobId)];
    const mark = w.executor.requests.length;
    const r = await w.nbatch(["status", ...ids], { env });
    expect(r.code).toBe(0);
    const calls = describeCalls(mark);
    expect(calls.map((c) => c.body.jobs.length).sort((a, b) => b - a)).toEqual([100, 51]);
    expect(calls.flatMap((c) => c.body.jobs).sort()).toEqual([...ids].sort());
    const rows = r.stdout.trimEnd().split("\n").slice(1);
    expect(rows).toHaveLength(151);
    expect(rows[0]).toContain("SUCCEEDED");
    expect(rows.slice(1).every((row) => /nbatch-analysis-\S+\s+forgotten by Batch$/.test(row))).toBe(true);
    const first = records[0]!;
    expect(r.stderr).toContain("Batch has forgotten 150 of these jobs");
    expect(r.stderr).toContain(`nbatch build --attach ${first.jobId} ~/analysis-149    # ${first.resultsUrl}`);
  });

  it("status exits 1 with one line for a job neither Batch nor the history knows, still showing the others", async () => {
    const stranger = randomUUID();
    const r = await w.nbatch(["status", ok, stranger], { env: await history() });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(ok);
    expect(r.stderr.trim().split("\n")).toEqual([
      `nbatch: error: job ${stranger} is not known to Batch in us-east-1 nor in this machine's run history: check the id, or pass --aws-region if it ran elsewhere`,
    ]);
  });

  it("status without ids shows the recent runs of the history", async () => {
    const env = await history([{ jobId: ok }, { jobId: failed }]);
    const r = await w.nbatch(["status"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n").slice(1).map((row) => row.split(/\s+/)[0])).toEqual([failed, ok]);
    const [newest] = await listRuns(env);
    const byRunId = await w.nbatch(["status", "--json", newest!.runId], { env });
    expect(byRunId.code).toBe(0);
    expect(jsonLines(byRunId.stdout)).toMatchObject([{ jobId: failed, runId: newest!.runId, status: "FAILED" }]);
    const empty = await w.nbatch(["status"], { env: await history() });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe("");
    expect(empty.stderr).toMatch(/No runs recorded yet in .*nbatch\/history\.jsonl/);
  });

  it("logs prints a finished job's whole log, and how it ended", async () => {
    const r = await w.nbatch(["logs", ok]);
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(["hello from the job", "second line"]);
    expect(r.stderr).toMatch(/Job SUCCEEDED after \d+ seconds? \(exited 0\)/);
    expect(r.stderr).not.toContain("attempt");
  });

  it("logs prints every attempt of a retried job, each announced", async () => {
    const id = await submit(["sh", "-c", 'echo "try $AWS_BATCH_JOB_ATTEMPT"; exit 1'], 3);
    await waitFor(id, done);
    const r = await w.nbatch(["logs", id]);
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(["try 1", "try 2", "try 3"]);
    expect(r.stderr).toMatch(/attempt 1 of 3[^]*attempt 2 of 3[^]*attempt 3 of 3[^]*Job FAILED.*\(exited 1\)/);
  });

  it("logs --follow tails a running job until it ends", async () => {
    const last = w.gate();
    const id = await submit(["sh", "-c", `echo first; ${last.wait}; echo last`]);
    await waitFor(id, running);
    const cli = spawnCli(["logs", "--follow", id], { env: w.env });
    await cli.waitForOutput("first");
    expect((await waitFor(id, () => true)).status).toBe("RUNNING");
    await last.open();
    const r = await cli.result;
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(["first", "last"]);
    expect(r.stderr).toContain("Job status: RUNNING");
    expect(r.stderr).toMatch(/Job SUCCEEDED after \d+ seconds? \(exited 0\)/);
  });

  it("logs of a running job without --follow prints what there is so far and returns", async () => {
    const id = await submit(["sh", "-c", `echo early; ${w.gate().wait}`]);
    const job = await waitFor(id, running);
    await expect.poll(() => logLines(logGroupOf(job), job.container!.logStreamName!), { timeout: 10_000 }).toEqual(["early"]);
    const r = await w.nbatch(["logs", id]);
    expect(r.code).toBe(0);
    expect(logMessages(r.stdout)).toEqual(["early"]);
    expect(r.stderr).toContain(`nbatch logs --follow ${id}`);
    expect((await w.nbatch(["cancel", id])).code).toBe(0);
  });

  it("cancel stops a running job, which then fails, with who stopped it as the reason", async () => {
    // A job that never ends by itself: only the cancel can end it.
    const id = await submit(["sh", "-c", w.gate().wait]);
    await waitFor(id, running);
    const r = await w.nbatch(["cancel", id], { env: { ...w.env, USER: "ada" } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Stopping job ${id} (it was RUNNING)`);
    const job = await waitFor(id, done);
    expect(job.status).toBe("FAILED");
    expect(job.statusReason).toMatch(/^Cancelled by nbatch \(ada@.+\)$/);
    const terminate = w.executor.requests.filter((q) => q.operation === "TerminateJob").find((q) => q.body.jobId === id);
    expect(terminate?.body.reason).toBe(job.statusReason);

    const again = await w.nbatch(["cancel", id]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`Job ${id} has already FAILED; nothing to cancel`);
  });

  it("cancel --wait waits for the job to stop and says how it ended", async () => {
    const id = await submit(["sh", "-c", w.gate().wait]);
    await waitFor(id, running);
    const r = await w.nbatch(["cancel", "--wait", id]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Job FAILED after \d+ seconds?/);
    expect((await waitFor(id, () => true)).status).toBe("FAILED");
  });

  it("cancel of an unknown job says so in one line and exits 1", async () => {
    const stranger = randomUUID();
    const r = await w.nbatch(["cancel", stranger], { env: await history() });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`job ${stranger} is not known to Batch`);
    expect(w.executor.requests.some((q) => q.operation === "TerminateJob" && q.body.jobId === stranger)).toBe(false);
  });

  it("ls asks about each run with the AWS profile it was submitted with, one DescribeJobs per profile", async () => {
    const env = await history([{ jobId: ok }, { jobId: failed, profile: "lab-b" }]);
    const aws = join(w.home, "aws-profiles");
    await mkdir(aws, { recursive: true });
    await writeFile(join(aws, "credentials"), "[lab-b]\naws_access_key_id = labb\naws_secret_access_key = labb\n");
    const mark = w.executor.requests.length;
    const r = await w.nbatch(["ls", "--json"], { env: { ...env, AWS_SHARED_CREDENTIALS_FILE: join(aws, "credentials") } });
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).map((j) => [j.jobId, j.status])).toEqual([
      [failed, "FAILED"],
      [ok, "SUCCEEDED"],
    ]);
    expect(describeCalls(mark)).toHaveLength(2);
  });

  it("ls lists the history newest first with live statuses in one DescribeJobs call, keeping forgotten runs", async () => {
    const gone = randomUUID();
    const env = await history([{ jobId: ok, command: ["make", "all"] }, { jobId: gone }, { jobId: failed, command: ["sh", "-c", "exit 3"] }]);
    const mark = w.executor.requests.length;
    const r = await w.nbatch(["ls"], { env });
    expect(r.code).toBe(0);
    expect(describeCalls(mark)).toHaveLength(1);
    const [header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^SUBMITTED\s+JOB ID\s+STATUS\s+EXIT\s+DIR\s+COMMAND$/);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+${failed}\\s+FAILED\\s+3\\s+~/analysis-2\\s+sh -c 'exit 3'$`));
    expect(rows[1]).toMatch(new RegExp(`${gone}\\s+forgotten by Batch\\s+~/analysis-1\\s+make all$`));
    expect(rows[2]).toMatch(new RegExp(`${ok}\\s+SUCCEEDED\\s+0\\s+~/analysis-0\\s+make all$`));
    expect(r.stderr).toContain("Batch has forgotten 1 of these jobs");
    expect(r.stderr).toMatch(new RegExp(`nbatch build --attach ${gone} ~/analysis-1    # s3://${w.bucket}/jobs/runs/[0-9a-f-]+/results.zip`));

    const logs = await w.nbatch(["logs", gone], { env });
    expect(logs.code).toBe(1);
    expect(logs.stderr).toMatch(new RegExp(`^nbatch: error: Batch has forgotten job ${gone}.*results are still at s3://.*nbatch build --attach ${gone} ~/analysis-1\n$`));
    const cancel = await w.nbatch(["cancel", gone], { env });
    expect(cancel.code).toBe(0);
    expect(cancel.stderr).toContain("nothing to cancel");

    const limited = await w.nbatch(["ls", "--limit", "2"], { env });
    expect(limited.stdout.trimEnd().split("\n")).toHaveLength(3);

    const json = jsonLines((await w.nbatch(["ls", "--json"], { env })).stdout);
    expect(json.map((j) => [j.jobId, j.status, j.forgotten])).toEqual([
      [failed, "FAILED", false],
      [gone, null, true],
      [ok, "SUCCEEDED", false],
    ]);
    expect(json[1]).toMatchObject({ dir: join(w.home, "analysis-1"), command: ["make", "all"], submittedAt: "2026-01-01T00:01:00.000Z" });
    expect(json[1].resultsUrl).toMatch(/^s3:\/\/.*\/results\.zip$/);
  });

  it("ls and status find a run that nbatch build recorded, by its job id or run id", async () => {
    const env = await history();
    const dir = await w.makeDir("recorded", { "in.txt": "x" });
    const build = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "echo built; exit 4"], { env });
    expect(build.code).toBe(4);
    const jobId = /Submitted job (\S+)/.exec(build.stderr)![1]!;
    const [row] = jsonLines((await w.nbatch(["ls", "--json"], { env })).stdout);
    expect(row).toMatchObject({ jobId, status: "FAILED", exitCode: 4, dir, command: ["sh", "-c", "echo built; exit 4"] });
    const status = await w.nbatch(["status", row.runId], { env });
    expect(status.stdout).toMatch(new RegExp(`^${jobId}\\s+nbatch-recorded-\\S+\\s+FAILED\\s+4\\s`, "m"));
    expect(logMessages((await w.nbatch(["logs", row.runId], { env })).stdout)).toContain("built");
  });

  it("ls with an empty history says where runs are recorded; a bad --limit is a usage error", async () => {
    const env = await history();
    const r = await w.nbatch(["ls"], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(join(env.XDG_STATE_HOME!, "nbatch", "history.jsonl"));
    expect((await w.nbatch(["ls", "--limit", "0"], { env })).code).toBe(2);
  });

  it("every job command's --help has examples", async () => {
    for (const command of ["status", "logs", "cancel", "ls"]) {
      const r = await w.nbatch([command, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Examples:\\n  nbatch ${command}`));
    }
  });
});

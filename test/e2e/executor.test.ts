import {
  BatchClient,
  CancelJobCommand,
  ClientException,
  CreateJobQueueCommand,
  DeregisterJobDefinitionCommand,
  DescribeJobDefinitionsCommand,
  DescribeJobQueuesCommand,
  DescribeJobsCommand,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  UpdateJobQueueCommand,
  type JobDetail,
  type JobStatus,
} from "@aws-sdk/client-batch";
import { afterAll, beforeAll, it } from "vitest";
import { logLines } from "../support/aws.js";
import { nbatchBin } from "../support/cli.js";
import { startBatchExecutor, type BatchExecutor } from "../support/executor.js";
import { describeWithMoto, motoEndpoint } from "../support/moto.js";

describeWithMoto("the test Batch executor", () => {
  let executor: BatchExecutor;
  let batch: BatchClient;
  const queue = "executor-test-queue";

  beforeAll(async () => {
    // Steps long enough that polling sees every status even on a loaded machine.
    executor = await startBatchExecutor({ motoEndpoint: motoEndpoint()!, nbatchBin, stepDelayMs: 150, killGraceMs: 500 });
    batch = new BatchClient({
      endpoint: executor.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    await executor.createQueue(queue);
    await executor.registerJobDefinition({
      jobDefinitionName: "executor-test-job",
      type: "container",
      containerProperties: {
        image: "nbatch:test",
        command: ["true"],
        environment: [{ name: "FROM_DEFINITION", value: "def" }],
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/my/group" } },
      },
    });
  });
  afterAll(async () => {
    batch?.destroy();
    await executor?.stop();
  });

  const submit = (command: string[], extra: { jobName?: string; jobQueue?: string; attempts?: number; size?: number; sequential?: boolean } = {}) =>
    batch.send(
      new SubmitJobCommand({
        jobName: extra.jobName ?? "executor-test",
        jobQueue: extra.jobQueue ?? queue,
        jobDefinition: "executor-test-job",
        containerOverrides: { command, environment: [{ name: "FROM_OVERRIDE", value: "over" }] },
        retryStrategy: extra.attempts ? { attempts: extra.attempts } : undefined,
        ...(extra.size ? { arrayProperties: { size: extra.size } } : {}),
        ...(extra.sequential ? { dependsOn: [{ type: "SEQUENTIAL" }] } : {}),
      }),
    );
  const children = async (arrayJobId: string, jobStatus: JobStatus, maxResults?: number) => {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await batch.send(new ListJobsCommand({ arrayJobId, jobStatus, maxResults, nextToken }));
      ids.push(...page.jobSummaryList!.map((j) => `${j.jobId} ${j.arrayProperties?.index} ${j.container?.exitCode}`));
      nextToken = page.nextToken;
    } while (nextToken);
    return ids.sort();
  };

  /** Polls DescribeJobs until the job stops, returning it and every status seen. */
  async function waitForJob(jobId: string, onStatus?: (status: string) => Promise<void>): Promise<{ job: JobDetail; seen: string[] }> {
    const seen: string[] = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const { jobs } = await batch.send(new DescribeJobsCommand({ jobs: [jobId] }));
      const job = jobs![0]!;
      if (seen.at(-1) !== job.status) {
        seen.push(job.status!);
        await onStatus?.(job.status!);
      }
      if (job.status === "SUCCEEDED" || job.status === "FAILED") return { job, seen };
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`job ${jobId} did not finish; saw ${seen.join(" ")}`);
  }

  it.concurrent("runs a job through Batch's states, with its exit code and its output in CloudWatch Logs", async ({ expect }) => {
    // A second of work, so RUNNING lasts longer than a DescribeJobs on a loaded machine.
    const { jobId } = await submit(["sh", "-c", "echo hello; echo oops >&2; sleep 1; exit 3"]);
    const { job, seen } = await waitForJob(jobId!);

    expect(seen).toEqual(["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "FAILED"]);
    expect(job.statusReason).toBe("Essential container in task exited");
    expect(job.container?.exitCode).toBe(3);
    expect(job.container?.logStreamName).toMatch(/^executor-test-job\/default\/[0-9a-f]+$/);
    expect(job.container?.logConfiguration?.options?.["awslogs-group"]).toBe("/my/group");
    expect(job.attempts).toEqual([
      expect.objectContaining({ container: expect.objectContaining({ exitCode: 3, logStreamName: job.container!.logStreamName }) }),
    ]);
    expect(job.startedAt).toBeGreaterThanOrEqual(job.createdAt!);
    expect(job.stoppedAt).toBeGreaterThanOrEqual(job.startedAt!);
    expect(await logLines("/my/group", job.container!.logStreamName!)).toEqual(expect.arrayContaining(["hello", "oops"]));
    const submitted = executor.requests.filter((r) => r.operation === "SubmitJob").map((r) => r.body.containerOverrides?.command);
    expect(submitted).toContainEqual(["sh", "-c", "echo hello; echo oops >&2; sleep 1; exit 3"]);
  });

  it.concurrent("gives the job its definition's and overrides' environment, nbatch on PATH, an empty directory", async ({ expect }) => {
    const script = 'test -z "$(ls -A)" && command -v nbatch && echo "$FROM_DEFINITION $FROM_OVERRIDE $AWS_ENDPOINT_URL"';
    const { jobId } = await submit(["sh", "-c", script]);
    const { job } = await waitForJob(jobId!);

    expect(job.status).toBe("SUCCEEDED");
    expect(job.container?.exitCode).toBe(0);
    const lines = await logLines("/my/group", job.container!.logStreamName!);
    expect(lines[0]).toMatch(/\/nbatch$/);
    expect(lines[1]).toBe(`def over ${motoEndpoint()}`);
  });

  it.concurrent("has every line in CloudWatch Logs by the time the job is reported finished", async ({ expect }) => {
    const { jobId } = await submit(["sh", "-c", "seq 1 20000; printf 'no newline at the end'"]);
    const { job } = await waitForJob(jobId!);
    const lines = await logLines("/my/group", job.container!.logStreamName!);

    expect(lines).toHaveLength(20001);
    expect(lines.at(-1)).toBe("no newline at the end");
  });

  it.concurrent("rejects an invalid job name and an unknown queue as Batch does", async ({ expect }) => {
    await expect(submit(["true"], { jobName: "run.with.dots" })).rejects.toBeInstanceOf(ClientException);
    await expect(submit(["true"], { jobQueue: "no-such-queue" })).rejects.toThrow(/no-such-queue/);
  });

  it.concurrent("keeps job queues and job definition revisions as Batch does", async ({ expect }) => {
    await batch.send(new CreateJobQueueCommand({ jobQueueName: "registry-queue", priority: 1, computeEnvironmentOrder: [] }));
    const register = () =>
      batch.send(
        new RegisterJobDefinitionCommand({
          jobDefinitionName: "registry-job",
          type: "container",
          containerProperties: { command: ["true"] },
        }),
      );
    expect((await register()).revision).toBe(1);
    const second = await register();
    expect(second.revision).toBe(2);
    expect(second.jobDefinitionArn).toBe("arn:aws:batch:us-east-1:123456789012:job-definition/registry-job:2");

    await batch.send(new DeregisterJobDefinitionCommand({ jobDefinition: "registry-job:2" }));
    const active = await batch.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: "registry-job", status: "ACTIVE" }));
    expect(active.jobDefinitions?.map((d) => d.revision)).toEqual([1]);
    const byRef = await batch.send(new DescribeJobDefinitionsCommand({ jobDefinitions: [second.jobDefinitionArn!] }));
    expect(byRef.jobDefinitions?.map((d) => d.status)).toEqual(["INACTIVE"]);

    const submitTo = (jobQueue: string, jobDefinition: string) =>
      batch.send(new SubmitJobCommand({ jobName: "registry", jobQueue, jobDefinition }));
    await expect(submitTo("registry-queue", "registry-job:2")).rejects.toThrow(/registry-job:2/);
    expect((await submitTo("registry-queue", "registry-job")).jobId).toBeTruthy();

    await batch.send(new UpdateJobQueueCommand({ jobQueue: "registry-queue", state: "DISABLED" }));
    const { jobQueues } = await batch.send(new DescribeJobQueuesCommand({ jobQueues: ["registry-queue"] }));
    expect(jobQueues?.[0]).toMatchObject({ state: "DISABLED", status: "VALID" });
    await expect(submitTo("registry-queue", "registry-job")).rejects.toThrow(/not ENABLED/);
  });

  it.concurrent("validates overrides and reports the merged container as DescribeJobs does", async ({ expect }) => {
    const withOverrides = (overrides: object) =>
      batch.send(
        new SubmitJobCommand({
          jobName: "overrides",
          jobQueue: queue,
          jobDefinition: "executor-test-job",
          containerOverrides: { command: ["true"], ...overrides },
          tags: { run: "r1" },
        }),
      );
    await expect(withOverrides({ resourceRequirements: [{ type: "MEMORY", value: "15GiB" }] })).rejects.toThrow(/MEMORY/);
    await expect(withOverrides({ environment: [{ name: "AWS_BATCH_X", value: "1" }] })).rejects.toThrow(/reserved/);

    const { jobId } = await withOverrides({
      resourceRequirements: [
        { type: "VCPU", value: "2" },
        { type: "MEMORY", value: "15360" },
      ],
    });
    const { job } = await waitForJob(jobId!);
    expect(job.tags).toEqual({ run: "r1" });
    expect(job.container?.resourceRequirements).toEqual([
      { type: "VCPU", value: "2" },
      { type: "MEMORY", value: "15360" },
    ]);
    expect(job.container?.environment).toEqual([{ name: "FROM_DEFINITION", value: "def" }]);
  });

  it.concurrent("fails a job whose command cannot start, without an exit code", async ({ expect }) => {
    const { jobId } = await submit(["no-such-command-anywhere"]);
    const { job } = await waitForJob(jobId!);

    expect(job.status).toBe("FAILED");
    expect(job.statusReason).toMatch(/^CannotStartContainerError: /);
    expect(job.container?.exitCode).toBeUndefined();
  });

  it.concurrent("retries a failing job up to its attempts, each attempt with its own log stream", async ({ expect }) => {
    const { jobId } = await submit(["sh", "-c", 'echo "attempt $AWS_BATCH_JOB_ATTEMPT"; exit 1'], { attempts: 2 });
    const { job } = await waitForJob(jobId!);

    expect(job.status).toBe("FAILED");
    expect(job.attempts).toHaveLength(2);
    const [first, second] = job.attempts!.map((a) => a.container!.logStreamName!);
    expect(first).not.toBe(second);
    expect(await logLines("/my/group", second!)).toEqual(["attempt 2"]);
  });

  it.concurrent("stops a running job on TerminateJob, not on CancelJob, as Batch does", async ({ expect }) => {
    const { jobId } = await submit(["sleep", "30"]);
    const started = Date.now();
    const { job } = await waitForJob(jobId!, async (status) => {
      if (status !== "RUNNING") return;
      await batch.send(new CancelJobCommand({ jobId, reason: "cancelled by test" }));
      await batch.send(new TerminateJobCommand({ jobId, reason: "stopped by test" }));
    });

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(job.status).toBe("FAILED");
    expect(job.statusReason).toBe("stopped by test");
    expect(job.container?.exitCode).toBe(143);
    const { jobSummaryList } = await batch.send(new ListJobsCommand({ jobQueue: queue, jobStatus: "FAILED" }));
    expect(jobSummaryList?.map((j) => j.jobId)).toContain(jobId);
  });

  it.concurrent("runs an array job's children with their index, and derives the parent's status and statusSummary from them", async ({ expect }) => {
    const { jobId } = await submit(["sh", "-c", 'echo "child $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ID"; exit $AWS_BATCH_JOB_ARRAY_INDEX'], { size: 3 });
    const { job, seen } = await waitForJob(jobId!);

    expect(seen[0]).toBe("SUBMITTED");
    expect(seen).toContain("PENDING");
    expect(seen.filter((s) => !["SUBMITTED", "PENDING", "FAILED"].includes(s))).toEqual([]);
    expect(job.arrayProperties).toEqual({ size: 3, statusSummary: { SUCCEEDED: 1, FAILED: 2 } });
    const { jobs } = await batch.send(new DescribeJobsCommand({ jobs: [0, 1, 2].map((i) => `${jobId}:${i}`) }));
    expect(jobs!.map((c) => [c.arrayProperties?.index, c.status, c.container?.exitCode])).toEqual([
      [0, "SUCCEEDED", 0],
      [1, "FAILED", 1],
      [2, "FAILED", 2],
    ]);
    expect(await logLines("/my/group", jobs![2]!.container!.logStreamName!)).toEqual([`child 2 of ${jobId}:2`]);
    expect(await children(jobId!, "FAILED", 1)).toEqual([`${jobId}:1 1 1`, `${jobId}:2 2 2`]);
    expect(await children(jobId!, "SUCCEEDED")).toEqual([`${jobId}:0 0 0`]);
    await expect(submit(["true"], { size: 1 })).rejects.toThrow(/from 2 to 10,000/);
  });

  it.concurrent("runs a SEQUENTIAL array one child after another, and fails the rest once one fails", async ({ expect }) => {
    const { jobId } = await submit(["sh", "-c", '[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]'], { size: 4, sequential: true });
    const { job } = await waitForJob(jobId!);

    expect(job.status).toBe("FAILED");
    const { jobs } = await batch.send(new DescribeJobsCommand({ jobs: [0, 1, 2, 3].map((i) => `${jobId}:${i}`) }));
    expect(jobs!.map((c) => c.status)).toEqual(["SUCCEEDED", "FAILED", "FAILED", "FAILED"]);
    expect(jobs![1]!.startedAt).toBeGreaterThanOrEqual(jobs![0]!.stoppedAt!);
    expect(jobs![2]!.statusReason).toBe("Dependent Job failed");
    expect(jobs![2]!.startedAt).toBeUndefined();
    expect(jobs![3]!.dependsOn).toEqual([{ jobId: `${jobId}:2`, type: "SEQUENTIAL" }]);
  });

  it.concurrent("ends every child of an array job on TerminateJob of the parent", async ({ expect }) => {
    const { jobId } = await submit(["sleep", "30"], { size: 2, sequential: true });
    const first = async () => (await batch.send(new DescribeJobsCommand({ jobs: [`${jobId}:0`] }))).jobs?.[0]?.status;
    while ((await first()) !== "RUNNING") await new Promise((r) => setTimeout(r, 20));
    await batch.send(new TerminateJobCommand({ jobId, reason: "stopped by test" }));
    const { job } = await waitForJob(jobId!);

    expect(job.status).toBe("FAILED");
    const { jobs } = await batch.send(new DescribeJobsCommand({ jobs: [`${jobId}:0`, `${jobId}:1`] }));
    expect(jobs!.map((c) => [c.status, c.statusReason, c.container?.exitCode])).toEqual([
      ["FAILED", "stopped by test", 143],
      ["FAILED", "stopped by test", undefined],
    ]);
  });
});

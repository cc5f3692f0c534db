import { BatchClient, ClientException, DescribeJobsCommand, ServerException, type JobDetail } from "@aws-sdk/client-batch";
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  ResourceNotFoundException,
  type GetLogEventsCommandInput,
} from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { watchJob } from "../../src/job/watch.js";
import { localIsoTime } from "../../src/ui/format.js";
import type { BuildEvent, Output } from "../../src/ui/output.js";
import { createFakeClock } from "../support/clock.js";
import { createTestOutput } from "../support/io.js";

const batchMock = mockClient(BatchClient);
const logsMock = mockClient(CloudWatchLogsClient);
afterEach(() => {
  batchMock.reset();
  logsMock.reset();
});

const JOB_ID = "5e0b3c1a-0000-4000-8000-000000000001";
const GROUP = "/lab/nbatch-jobs";
const S1 = "nbatch-job/default/attempt1";
const S2 = "nbatch-job/default/attempt2";

/** One DescribeJobs answer: the job as Batch describes it, an error, or nothing (a forgotten job). */
type Answer = JobDetail | Error | "forgotten";

function job(status: JobDetail["status"], o: { stream?: string; attempts?: string[]; maxAttempts?: number; exitCode?: number } = {}): JobDetail {
  return {
    jobId: JOB_ID,
    jobName: "nbatch-analysis-0194",
    jobQueue: "arn:aws:batch:us-east-1:123456789012:job-queue/q",
    jobDefinition: "arn:aws:batch:us-east-1:123456789012:job-definition/nbatch-job:1",
    status,
    createdAt: 1,
    startedAt: undefined,
    retryStrategy: o.maxAttempts ? { attempts: o.maxAttempts } : undefined,
    attempts: (o.attempts ?? []).map((s) => ({ container: { logStreamName: s, exitCode: 1 } })),
    container: {
      logStreamName: o.stream,
      exitCode: o.exitCode,
      logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": GROUP } },
    },
  };
}

/**
 * Batch answering a scripted series of DescribeJobs (the last answer
 * repeats) and CloudWatch serving the given streams two events a page.
 * Every API call goes on one timeline, in the order it was made.
 */
function setup(script: Answer[], streams: Record<string, string[]>, onDescribe: (call: number) => void = () => undefined) {
  const timeline: string[] = [];
  const logCalls: { group?: string; stream?: string }[] = [];
  let calls = 0;
  batchMock.on(DescribeJobsCommand).callsFake((input) => {
    expect(input.jobs).toEqual([JOB_ID]);
    // A watch that loops without sleeping would otherwise hang the test run instead of failing it.
    if (calls >= 1000) throw new Error("runaway watch: over 1000 DescribeJobs calls");
    const answer = script[Math.min(calls++, script.length - 1)]!;
    onDescribe(calls);
    if (answer instanceof Error) {
      timeline.push(`describe: ${answer.name}`);
      throw answer;
    }
    timeline.push(answer === "forgotten" ? "describe: -" : `describe: ${answer.status} ${answer.container?.logStreamName ?? "-"}`);
    return { jobs: answer === "forgotten" ? [] : [answer] };
  });
  logsMock.on(GetLogEventsCommand).callsFake((input: GetLogEventsCommandInput) => {
    logCalls.push({ group: input.logGroupName, stream: input.logStreamName });
    timeline.push(`logs: ${input.logStreamName}`);
    const lines = streams[input.logStreamName!];
    if (!lines) throw new ResourceNotFoundException({ message: "The specified log stream does not exist.", $metadata: {} });
    const from = input.nextToken ? Number(input.nextToken.slice(2)) : 0;
    const to = Math.min(lines.length, from + 2);
    return {
      events: lines.slice(from, to).map((message, i) => ({ timestamp: 1_700_000_000_000 + from + i, message })),
      nextForwardToken: `f/${to}`,
    };
  });
  // The Output double, with what it is told also kept in order on one list.
  const io = createTestOutput();
  const events: BuildEvent[] = [];
  const said: string[] = [];
  const { emit, info, warn } = io;
  const out: Output = Object.assign(io, {
    emit: (e: BuildEvent) => {
      events.push(e);
      if (e.type === "log") said.push(`log: ${e.message}`);
      emit(e);
    },
    info: (line: string) => (said.push(`info: ${line}`), info(line)),
    warn: (line: string) => (said.push(`warn: ${line}`), warn(line)),
  });
  const clock = createFakeClock(Date.UTC(2025, 0, 1), { autoAdvance: true });
  const stop = new AbortController();
  const watch = (o: { showLogs?: boolean } = {}) =>
    watchJob({
      batch: new BatchClient({ region: "us-east-1" }),
      logs: new CloudWatchLogsClient({ region: "us-east-1" }),
      clock,
      out,
      jobId: JOB_ID,
      pollIntervalMs: 5000,
      stop: stop.signal,
      showLogs: o.showLogs ?? true,
    });
  return { watch, timeline, logCalls, events, said, io, clock, stop, describeCalls: () => calls };
}

/** Once watchJob has returned, no tail may go on calling GetLogEvents. */
async function expectNoTailLeft(logCalls: unknown[]): Promise<void> {
  const settled = logCalls.length;
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  expect(logCalls.length).toBe(settled);
}

const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
const logsOf = (said: string[]) => said.filter((l) => l.startsWith("log: ")).map((l) => l.slice(5));
const statusesOf = (said: string[]) => said.filter((l) => l.startsWith("info: Job status: ")).map((l) => l.slice(18));

describe("watchJob", () => {
  it("prints each status once, not the final one, and returns the final state", async () => {
    const s = setup(
      [
        job("SUBMITTED"),
        job("SUBMITTED"),
        job("PENDING"),
        job("RUNNABLE"),
        job("RUNNABLE"),
        job("RUNNABLE"),
        job("STARTING", { stream: S1 }),
        job("RUNNING", { stream: S1 }),
        job("RUNNING", { stream: S1 }),
        job("SUCCEEDED", { stream: S1, attempts: [S1], exitCode: 0 }),
      ],
      { [S1]: [] },
    );
    const final = await s.watch();
    expect(statusesOf(s.said)).toEqual(["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]);
    expect(final).toMatchObject({ id: JOB_ID, status: "SUCCEEDED", exitCode: 0, logGroup: GROUP });
    expect(s.describeCalls()).toBe(10);
    // Polled at the configured interval, not in a busy loop.
    expect(s.clock.sleeps.filter((ms) => ms === 5000)).toHaveLength(9);
    const statusEvents = s.events.filter((e) => e.type === "status").map((e) => (e as { status: string }).status);
    expect(statusEvents).toEqual(["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]);
  });

  it("starts tailing the job's own log group once the log stream is known, and prints every line once", async () => {
    const s = setup(
      [job("RUNNABLE"), job("RUNNABLE"), job("STARTING", { stream: S1 }), job("RUNNING", { stream: S1 }), job("RUNNING", { stream: S1 }), job("SUCCEEDED", { stream: S1, attempts: [S1] })],
      { [S1]: numbered("line", 9) },
    );
    await s.watch();
    const firstLogCall = s.timeline.findIndex((t) => t.startsWith("logs:"));
    const streamKnown = s.timeline.findIndex((t) => t.endsWith(S1));
    expect(firstLogCall).toBeGreaterThan(streamKnown);
    expect(s.logCalls.every((c) => c.group === GROUP && c.stream === S1)).toBe(true);
    expect(logsOf(s.said)).toEqual(numbered("line", 9));
    // On stdout, as `[batch] [<local ISO time>] <message>`.
    expect(s.io.stdoutText().split("\n").slice(0, 2)).toEqual([
      `[batch] [${localIsoTime(1_700_000_000_000)}] line 1`,
      `[batch] [${localIsoTime(1_700_000_000_001)}] line 2`,
    ]);
  });

  it("sends the final status event after the last log line", async () => {
    const s = setup([job("RUNNING", { stream: S1 }), job("SUCCEEDED", { stream: S1, attempts: [S1], exitCode: 0 })], { [S1]: numbered("line", 5) });
    await s.watch();
    const order = s.events.map((e) => (e.type === "status" ? `status ${e.status}` : e.type));
    expect(order).toEqual(["status RUNNING", "log", "log", "log", "log", "log", "status SUCCEEDED"]);
  });

  it("prints nothing of the log, and never reads it, without showLogs", async () => {
    const s = setup([job("RUNNING", { stream: S1 }), job("SUCCEEDED", { stream: S1, attempts: [S1] })], { [S1]: ["hidden"] });
    await s.watch({ showLogs: false });
    expect(s.logCalls).toEqual([]);
    expect(logsOf(s.said)).toEqual([]);
  });

  it("tails a new attempt's stream after the last lines of the one before", async () => {
    const s = setup(
      [
        job("RUNNABLE", { maxAttempts: 2 }),
        job("STARTING", { maxAttempts: 2, stream: S1 }),
        job("RUNNING", { maxAttempts: 2, stream: S1 }),
        job("RUNNING", { maxAttempts: 2, stream: S1 }),
        // Attempt 1 failed; Batch still reports its stream until attempt 2 starts.
        job("RUNNABLE", { maxAttempts: 2, stream: S1, attempts: [S1] }),
        job("STARTING", { maxAttempts: 2, stream: S2, attempts: [S1] }),
        job("RUNNING", { maxAttempts: 2, stream: S2, attempts: [S1] }),
        job("SUCCEEDED", { maxAttempts: 2, stream: S2, attempts: [S1, S2], exitCode: 0 }),
      ],
      { [S1]: numbered("first", 5), [S2]: numbered("second", 5) },
    );
    await s.watch();
    expect(logsOf(s.said)).toEqual([...numbered("first", 5), ...numbered("second", 5)]);
    expect(statusesOf(s.said)).toEqual([
      "RUNNABLE (attempt 1 of 2)",
      "STARTING (attempt 1 of 2)",
      "RUNNING (attempt 1 of 2)",
      "RUNNABLE (attempt 2 of 2)",
      "STARTING (attempt 2 of 2)",
      "RUNNING (attempt 2 of 2)",
    ]);
    const at = (line: string) => s.said.indexOf(line);
    expect(at("info: Log of attempt 1 of 2:")).toBeLessThan(at("log: first 1"));
    expect(at("log: first 5")).toBeLessThan(at("info: Log of attempt 2 of 2:"));
    expect(at("info: Log of attempt 2 of 2:")).toBeLessThan(at("log: second 1"));
    const logEvents = s.events.filter((e) => e.type === "log") as { attempt: number; message: string }[];
    expect(logEvents.map((e) => e.attempt)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    await expectNoTailLeft(s.logCalls);
  });

  it("notices a new attempt even when the status reads the same", async () => {
    const s = setup(
      [
        job("RUNNING", { maxAttempts: 2, stream: S1 }),
        // Between two polls attempt 1 failed and attempt 2 started.
        job("RUNNING", { maxAttempts: 2, stream: S2, attempts: [S1] }),
        job("SUCCEEDED", { maxAttempts: 2, stream: S2, attempts: [S1, S2], exitCode: 0 }),
      ],
      { [S1]: numbered("first", 3), [S2]: numbered("second", 3) },
    );
    await s.watch();
    expect(statusesOf(s.said)).toEqual(["RUNNING (attempt 1 of 2)", "RUNNING (attempt 2 of 2)"]);
    expect(logsOf(s.said)).toEqual([...numbered("first", 3), ...numbered("second", 3)]);
    await expectNoTailLeft(s.logCalls);
  });

  it("prints the whole log of an attempt that ended before it was seen running", async () => {
    const s = setup(
      [job("RUNNING", { maxAttempts: 2, stream: S2, attempts: [S1] }), job("FAILED", { maxAttempts: 2, stream: S2, attempts: [S1, S2], exitCode: 1 })],
      { [S1]: numbered("first", 3), [S2]: numbered("second", 3) },
    );
    const final = await s.watch();
    expect(logsOf(s.said)).toEqual([...numbered("first", 3), ...numbered("second", 3)]);
    expect(final).toMatchObject({ status: "FAILED", exitCode: 1, attempt: 2 });
  });

  it("retries transient DescribeJobs failures, saying once that contact was lost and once that it is back", async () => {
    const throttled = Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException", $metadata: { httpStatusCode: 429 } });
    const down = new ServerException({ message: "Internal error", $metadata: { httpStatusCode: 500 } });
    const s = setup(
      [job("RUNNING", { stream: S1 }), throttled, down, down, job("RUNNING", { stream: S1 }), down, job("SUCCEEDED", { stream: S1, attempts: [S1] })],
      { [S1]: numbered("line", 4) },
    );
    const final = await s.watch();
    expect(final.status).toBe("SUCCEEDED");
    expect(s.said.filter((l) => l.startsWith("warn: lost contact with AWS"))).toEqual([
      "warn: lost contact with AWS (TooManyRequestsException: Rate exceeded); still watching and retrying",
      "warn: lost contact with AWS (ServerException: Internal error); still watching and retrying",
    ]);
    expect(s.said.filter((l) => l === "info: Back in contact with AWS")).toHaveLength(2);
    // Three failures in a row are said once; the status, seen before and after them, is printed once.
    expect(statusesOf(s.said)).toEqual(["RUNNING"]);
    expect(logsOf(s.said)).toEqual(numbered("line", 4));
    expect(s.describeCalls()).toBe(7);
  });

  it("gives up at once on an error that is not transient", async () => {
    const denied = new ClientException({ message: "User is not authorized to perform batch:DescribeJobs", $metadata: { httpStatusCode: 403 } });
    const s = setup([job("RUNNING"), denied], {});
    await expect(s.watch()).rejects.toThrow(/not authorized/);
    expect(s.describeCalls()).toBe(2);
  });

  it("says Batch has forgotten a job it does not know", async () => {
    const s = setup(["forgotten"], {});
    const err = await s.watch().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`job ${JOB_ID} not found: Batch forgets jobs some days after they end`);
  });

  it("stops watching when told to, without waiting for the job to end", async () => {
    const s = setup([job("RUNNABLE"), job("RUNNING", { stream: S1 }), job("SUCCEEDED", { stream: S1 })], { [S1]: ["working"] }, (call) => {
      if (call === 2) s.stop.abort();
    });
    const final = await s.watch();
    expect(final.status).toBe("RUNNING");
    expect(s.describeCalls()).toBe(2);
    expect(s.clock.sleeps.filter((ms) => ms === 5000)).toHaveLength(2);
  });

  it("hints once at the queue's capacity when the job has been RUNNABLE for 60 polls, and afresh after it leaves", async () => {
    const isHint = (l: string) => l.startsWith("warn: the job is still RUNNABLE: the queue's compute environments may have no room for the vCPUs and memory it asks for.");
    const runnable = (n: number) => Array.from({ length: n }, () => job("RUNNABLE", { maxAttempts: 2 }));
    // The DescribeJobs call after which each hint was said.
    const hintedAfter: number[] = [];
    let hints = 0;
    const s = setup(
      [job("SUBMITTED"), ...runnable(80), job("RUNNING", { maxAttempts: 2 }), ...runnable(61), job("FAILED", { maxAttempts: 2, exitCode: 1 })],
      {},
      (call) => {
        const now = s.said.filter(isHint).length;
        if (now > hints) hintedAfter.push(call - 1);
        hints = now;
      },
    );
    await s.watch({ showLogs: false });
    // Calls 2 to 81 are RUNNABLE: the hint comes at the 61st, when 60 poll intervals have passed
    // since the first; RUNNING resets the wait, so the second comes at the 61st RUNNABLE after it.
    expect(hintedAfter).toEqual([62, 143]);
    expect(s.said.filter(isHint)).toHaveLength(2);
  });

  it("keeps watching the status when the log cannot be read", async () => {
    const s = setup([job("RUNNING", { stream: S1 }), job("RUNNING", { stream: S1 }), job("SUCCEEDED", { stream: S1, attempts: [S1] })], {});
    logsMock.on(GetLogEventsCommand).rejects(Object.assign(new Error("not allowed to read logs"), { name: "AccessDeniedException" }));
    const final = await s.watch();
    expect(final.status).toBe("SUCCEEDED");
    expect(s.said.some((l) => /^warn: cannot read the job's log \(AccessDeniedException: not allowed to read logs\); still watching its status$/.test(l))).toBe(true);
  });
});

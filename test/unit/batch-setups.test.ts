import { describe, expect, it } from "vitest";
import { describeJobs, type JobState } from "../../src/job/batch.js";
import { checkFargateSize, checkResources, platformOf } from "../../src/job/platform.js";
import { attemptLine, runnableLine, whyFailed } from "../../src/job/reasons.js";
import { parseRetryOn, retryStrategyFor } from "../../src/job/retries.js";

const job = (o: Partial<JobState>): JobState => ({ id: "j", name: "n", status: "FAILED", logGroup: "/aws/batch/job", attempt: 1, maxAttempts: 1, attempts: [], attemptStreams: [], tags: {}, ...o });

describe("--retry-on", () => {
  it("takes spot, any and exit codes, comma-separated or repeated", () => {
    expect(parseRetryOn(["spot,137", "1"])).toEqual({ spot: true, any: false, exitCodes: ["137", "1"] });
    expect(parseRetryOn(["ANY"])).toEqual({ spot: false, any: true, exitCodes: [] });
    expect(parseRetryOn([])).toBeUndefined();
  });

  it("refuses what Batch could not express, saying what it takes", () => {
    expect(() => parseRetryOn(["oom"])).toThrow(/invalid --retry-on "oom": use spot, any, or exit codes/);
    expect(() => parseRetryOn(["256"])).toThrow(/invalid --retry-on "256"/);
    expect(() => parseRetryOn(["any,spot"])).toThrow(/give it alone/);
    expect(() => parseRetryOn(["spot,1,2,3,4"])).toThrow(/at most 4 conditions/);
  });

  it("needs --retries", () => {
    expect(() => retryStrategyFor(undefined, parseRetryOn(["spot"]), {})).toThrow(/give --retries N too/);
  });
});

describe("the retry strategy submitted", () => {
  const spotOnly = [
    { onStatusReason: "Host EC2*", action: "RETRY" },
    { onReason: "*", action: "EXIT" },
  ];

  it("with --retries alone: the definition's rules, else spot reclaims only", () => {
    expect(retryStrategyFor(2, undefined, {})).toEqual({ attempts: 3, evaluateOnExit: spotOnly });
    const own = [{ onExitCode: "9", action: "RETRY" as const }];
    expect(retryStrategyFor(1, undefined, { retryStrategy: { attempts: 5, evaluateOnExit: own } })).toEqual({ attempts: 2, evaluateOnExit: own });
  });

  it("with --retry-on: its rules then EXIT; any retries everything; 0 retries none", () => {
    expect(retryStrategyFor(1, parseRetryOn(["spot,137"]), {})).toEqual({
      attempts: 2,
      evaluateOnExit: [spotOnly[0], { onExitCode: "137", action: "RETRY" }, spotOnly[1]],
    });
    expect(retryStrategyFor(4, parseRetryOn(["any"]), {})).toEqual({ attempts: 5 });
    expect(retryStrategyFor(0, undefined, {})).toEqual({ attempts: 1 });
    expect(retryStrategyFor(undefined, undefined, {})).toBeUndefined();
  });
});

describe("Fargate sizes", () => {
  it("accepts the pairs Fargate offers", () => {
    for (const [v, m] of [[0.25, 512], [0.25, 2048], [0.5, 3072], [4, 30720], [8, 20480], [16, 122880]] as const) expect(() => checkFargateSize(v, m)).not.toThrow();
  });

  it("names the nearest choice for memory, and the vCPU counts that take it", () => {
    expect(() => checkFargateSize(2, 3000)).toThrow("Fargate has no 2 vCPUs with 2.9 GiB: with 2 vCPUs use 4 GiB to 16 GiB in steps of 1 GiB (the nearest is --aws-batch-memory 4GiB)");
    expect(() => checkFargateSize(8, 18432)).toThrow(/the nearest is --aws-batch-memory 16GiB\), or with 18 GiB use 4 vCPUs/);
    expect(() => checkFargateSize(3, 4096)).toThrow("Fargate has no 3 vCPUs: use 0.25, 0.5, 1, 2, 4, 8, 16 (the nearest is 2)");
  });

  it("knows Fargate from the definition or from every compute environment of the queue", () => {
    expect(platformOf({ platformCapabilities: ["FARGATE"] }, [])).toBe("FARGATE");
    expect(platformOf({}, [{ computeResources: { type: "FARGATE_SPOT" } } as never, { computeResources: { type: "FARGATE" } } as never])).toBe("FARGATE");
    expect(platformOf({}, [{ computeResources: { type: "FARGATE" } } as never, { computeResources: { type: "SPOT" } } as never])).toBe("EC2");
    expect(platformOf({}, [])).toBe("EC2");
  });

  it("takes 21 to 200 GiB of disk, no GPUs and no shared memory size", () => {
    expect(() => checkResources("FARGATE", { diskGiB: 20 })).toThrow(/21 to 200 GiB/);
    expect(() => checkResources("FARGATE", { diskGiB: 200, arch: "arm64" })).not.toThrow();
    expect(() => checkResources("FARGATE", { sharedMemoryMiB: 64 })).toThrow(/--shm-size/);
    expect(() => checkResources("EC2", { gpus: 4, sharedMemoryMiB: 2048 })).not.toThrow();
  });
});

describe("why a job failed", () => {
  it("an image that cannot be pulled names the image and the role's permissions", () => {
    const why = whyFailed(job({ image: "123.dkr.ecr.us-east-1.amazonaws.com/flu:1", containerReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)" }));
    expect(why?.fix).toMatch(/check the image name \(123\.dkr\.ecr\.us-east-1\.amazonaws\.com\/flu:1\).*ecr:BatchGetImage/);
  });

  it("a timeout says how to allow longer; a plain non-zero exit says nothing more", () => {
    expect(whyFailed(job({ attempts: [{ statusReason: "Job attempt duration exceeded timeout" }] }))?.fix).toMatch(/--timeout/);
    expect(whyFailed(job({ exitCode: 2, attempts: [{ exitCode: 2, reason: "Essential container in task exited", statusReason: "Essential container in task exited" }] }))).toBeUndefined();
  });

  it("an unknown reason is shown as Batch wrote it, without a made-up fix", () => {
    expect(whyFailed(job({ statusReason: "Something new happened" }))).toEqual({ reason: "Something new happened" });
  });

  it("reasons reach the terminal as safe text: a TerminateJob caller's escape sequences are shown, not obeyed", async () => {
    const detail = { jobId: "j", jobName: "n", status: "FAILED", statusReason: "evil \x1b]0;PWNED\x07", container: { reason: "x\x1b[2J" }, attempts: [{ statusReason: "a\rb" }] };
    const [state] = await describeJobs({ send: async () => ({ jobs: [detail] }) } as never, ["j"]);
    expect([state!.statusReason, state!.containerReason, state!.attempts[0]!.statusReason]).toEqual(["evil \\x1b]0;PWNED\\x07", "x\\x1b[2J", "a\\x0db"]);
  });

  it("an attempt line tells how the attempt ended and which comes next", () => {
    const j = job({ maxAttempts: 3, memoryMiB: 1024 });
    expect(attemptLine({ exitCode: 137, reason: "OutOfMemoryError: Container killed due to memory usage" }, 1, j)).toBe(
      "Attempt 1 exited 137 (OutOfMemoryError: Container killed due to memory usage (it had 1 GiB)); attempt 2 of 3",
    );
  });

  it("a RUNNABLE reason of a kind Batch documents gets its fix; another is shown alone", () => {
    expect(runnableLine("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - There is no Spot capacity available")).toMatch(/\n {2}AWS has no capacity/);
    expect(runnableLine("WAITING:SOMETHING - x")).toBe("Job RUNNABLE: WAITING:SOMETHING - x");
  });
});

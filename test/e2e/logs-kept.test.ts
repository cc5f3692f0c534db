import { DeleteLogStreamCommand } from "@aws-sdk/client-cloudwatch-logs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listRuns } from "../../src/history.js";
import { logs } from "../support/aws.js";
import { logGroupOf } from "../support/executor-jobs.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const LOG_LINE = /^\[batch\] \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\] (.*)$/;
const messages = (stdout: string) => stdout.split("\n").flatMap((l) => LOG_LINE.exec(l)?.[1] ?? []).filter((m) => !m.startsWith("nbatch agent:"));

describeWithMoto("nbatch logs once Batch has forgotten the job, and once CloudWatch has too", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("reads the streams the run history recorded, then the copy the agent kept beside the results", async () => {
    const dir = await w.makeDir("kept-log", {});
    const script = "echo first line; echo 'second, with a tab\there'; echo to stderr >&2; printf 'no newline'";
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", script]);
    expect(r.code, r.stderr).toBe(0);
    const jobId = /Submitted job (\S+)/.exec(r.stderr)![1]!;
    const expected = ["first line", "second, with a tab\there", "to stderr", "no newline"];
    expect(messages(r.stdout).sort()).toEqual([...expected].sort());

    // The build recorded where the log is.
    const job = w.executor.jobs().find((j) => j.jobId === jobId)!;
    const stream = job.container!.logStreamName!;
    const [run] = await listRuns(w.env);
    expect(run).toMatchObject({ jobId, logGroup: logGroupOf(job), logStreams: [stream] });
    expect(run!.logUrl).toMatch(/\/runs\/[0-9a-f-]+\/log\.gz$/);

    // Batch forgets the job: the recorded stream is still in CloudWatch.
    w.executor.forget(jobId);
    const fromStream = await w.nbatch(["logs", jobId]);
    expect(fromStream.code, fromStream.stderr).toBe(0);
    expect(messages(fromStream.stdout).sort()).toEqual([...expected].sort());
    expect(fromStream.stderr).toContain(`Batch has forgotten job ${jobId}; this was its log`);

    // CloudWatch's retention deletes the stream: the agent's copy still has every line.
    const client = logs();
    await client.send(new DeleteLogStreamCommand({ logGroupName: logGroupOf(job), logStreamName: stream }));
    client.destroy();
    const fromCopy = await w.nbatch(["logs", jobId]);
    expect(fromCopy.code, fromCopy.stderr).toBe(0);
    expect(messages(fromCopy.stdout).sort()).toEqual([...expected].sort());
    expect(fromCopy.stderr).toContain("from the copy of the log kept with the job's results");
  });
});

import { describe, expect, it } from "vitest";
import { resolveTask } from "../../src/agent/task.js";
import type { Store } from "../../src/agent/store.js";

const store = (tasks: unknown): Store => ({
  download: async () => false,
  upload: async () => undefined,
  readText: async (url) => (url === "s3://b/runs/r/tasks.json" ? JSON.stringify(tasks) : undefined),
  remove: async () => undefined,
  source: async () => undefined,
});
const RESULTS = "s3://b/runs/r/tasks/{index}/results.zip";
const tasks = [{ index: 0, item: "a.fq" }, { index: 3, item: "b c.fq" }, { index: 7, item: "d.fq" }];

describe("resolveTask", () => {
  it("leaves a job that is no fan-out task as it is", async () => {
    expect(await resolveTask({}, store(tasks), ["make"], "s3://b/runs/r/results.zip")).toEqual({ resultsUrl: "s3://b/runs/r/results.zip", command: ["make"], env: {} });
  });

  it("finds the task at OFFSET + array index x STRIDE, and gives the command its index, item and {}", async () => {
    const env = { NBATCH_TASKS_URL: "s3://b/runs/r/tasks.json", NBATCH_TASK_OFFSET: "1", NBATCH_TASK_STRIDE: "1", AWS_BATCH_JOB_ARRAY_INDEX: "0" };
    const plan = await resolveTask(env, store(tasks), ["./align.sh", "{}", "out/{}.bam"], RESULTS);
    expect(plan.resultsUrl).toBe("s3://b/runs/r/tasks/3/results.zip");
    expect(plan.command).toEqual(["./align.sh", "b c.fq", "out/b c.fq.bam"]);
    expect(plan.env).toEqual({ NBATCH_INDEX: "3", AWS_BATCH_JOB_ARRAY_INDEX: "3", NBATCH_ITEM: "b c.fq" });
    const lane = await resolveTask({ ...env, NBATCH_TASK_OFFSET: "0", NBATCH_TASK_STRIDE: "2", AWS_BATCH_JOB_ARRAY_INDEX: "1" }, store(tasks), ["x"], RESULTS);
    expect(lane.task).toEqual({ index: 7, item: "d.fq" });
  });

  it("takes a one-task lane (a plain job, without an array index) as array index 0, and {} as the index without items", async () => {
    const plan = await resolveTask({ NBATCH_TASKS_URL: "s3://b/runs/r/tasks.json", NBATCH_TASK_OFFSET: "1" }, store([{ index: 0 }, { index: 1 }]), ["echo", "{}"], RESULTS);
    expect(plan.command).toEqual(["echo", "1"]);
    expect(plan.env).toEqual({ NBATCH_INDEX: "1", AWS_BATCH_JOB_ARRAY_INDEX: "1" });
  });

  it("refuses a missing or malformed list and a position past its end, in one line", async () => {
    const env = { NBATCH_TASKS_URL: "s3://b/runs/r/tasks.json", AWS_BATCH_JOB_ARRAY_INDEX: "5" };
    await expect(resolveTask(env, store(tasks), ["x"], RESULTS)).rejects.toThrow(/task 5 of the list .* which has 3/);
    await expect(resolveTask({ NBATCH_TASKS_URL: "s3://b/other.json" }, store(tasks), ["x"], RESULTS)).rejects.toThrow(/is not there/);
    await expect(resolveTask(env, store([{ index: "x" }]), ["x"], RESULTS)).rejects.toThrow(/malformed \(\[0\]\.index is not a whole number\)/);
    await expect(resolveTask({ ...env, NBATCH_TASK_STRIDE: "-1" }, store(tasks), ["x"], RESULTS)).rejects.toThrow(/NBATCH_TASK_STRIDE=-1 is not a whole number/);
  });
});

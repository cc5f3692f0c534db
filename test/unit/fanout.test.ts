import { BatchClient, DescribeJobsCommand, ListJobsCommand, type JobSummary } from "@aws-sdk/client-batch";
import { mockClient } from "aws-sdk-client-mock";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RateBudget } from "../../src/job/fanout/budget.js";
import { ChildrenWatch } from "../../src/job/fanout/children.js";
import { RunClaims } from "../../src/job/fanout/claims.js";
import { childOf, laneInput, planLanes } from "../../src/job/fanout/lanes.js";
import { planTasks } from "../../src/job/fanout/tasks.js";
import { statEntry } from "../../src/tree/manifest.js";
import { extractZip } from "../../src/tree/extract.js";
import { packZip } from "../../src/archive/pack.js";
import { createFakeClock } from "../support/clock.js";

describe("lanes", () => {
  it("is one array without a cap that binds, else K SEQUENTIAL lanes dealing the tasks round", () => {
    expect(planLanes(5, undefined)).toEqual({ lanes: [{ offset: 0, stride: 1, size: 5 }], sequential: false });
    expect(planLanes(5, 8)).toEqual({ lanes: [{ offset: 0, stride: 1, size: 5 }], sequential: false });
    expect(planLanes(5, 2)).toEqual({ lanes: [{ offset: 0, stride: 2, size: 3 }, { offset: 1, stride: 2, size: 2 }], sequential: true });
    expect(planLanes(3, 1).lanes).toEqual([{ offset: 0, stride: 1, size: 3 }]);
    const lanes = planLanes(5, 3).lanes.map((l, i) => ({ ...l, jobId: `L${i}` }));
    expect([0, 1, 2, 3, 4].map((p) => childOf(lanes, p).jobId)).toEqual(["L0:0", "L1:0", "L2", "L0:1", "L1:1"]);
  });

  it("gives each lane its place in the task list, an array only from 2 children, SEQUENTIAL only with a cap", () => {
    const base = { jobName: "j", jobQueue: "q", jobDefinition: "d", containerOverrides: { command: ["x"], environment: [{ name: "NBATCH_RUN_ID", value: "r" }] } };
    const lane = laneInput(base, { offset: 1, stride: 2, size: 2 }, true, "s3://b/runs/r/tasks.json");
    expect(lane.arrayProperties).toEqual({ size: 2 });
    expect(lane.dependsOn).toEqual([{ type: "SEQUENTIAL" }]);
    expect(lane.containerOverrides!.environment!.slice(1)).toEqual([
      { name: "NBATCH_TASKS_URL", value: "s3://b/runs/r/tasks.json" },
      { name: "NBATCH_TASK_OFFSET", value: "1" },
      { name: "NBATCH_TASK_STRIDE", value: "2" },
    ]);
    expect(base.containerOverrides.environment).toHaveLength(1);
    const single = laneInput(base, { offset: 2, stride: 2, size: 1 }, true, "u");
    expect(single.arrayProperties).toBeUndefined();
    expect(single.dependsOn).toBeUndefined();
  });
});

describe("--each", () => {
  const entry = (path: string, type: "file" | "dir" = "file") => ({ path, type, size: 1, mtimeMs: 0, mode: 0o644 });
  it("makes one task per matching path itself, not what is under it, in byte order; ! excludes; / only directories", () => {
    const entries = [entry("s/b.fq"), entry("s/a.fq"), entry("s/B.fq"), entry("s/x", "dir"), entry("s/x/in.fq"), entry("top.fq")];
    expect(planTasks({ each: ["s/*"], follow: [] }, entries, "d").map((t) => t.item)).toEqual(["s/B.fq", "s/a.fq", "s/b.fq", "s/x"]);
    expect(planTasks({ each: ["*.fq", "!s/a.fq"], follow: [] }, entries, "d").map((t) => t.item)).toEqual(["s/B.fq", "s/b.fq", "s/x/in.fq", "top.fq"]);
    expect(planTasks({ each: ["s/*/"], follow: [] }, entries, "d")).toEqual([{ index: 0, item: "s/x" }]);
    expect(() => planTasks({ each: ["*.bam"], follow: [] }, entries, "d")).toThrow(/--each '\*\.bam' matched no path of d/);
  });
});

describe("the conflict rule", () => {
  it("settles on the lowest task index whatever the order the tasks' results arrive in", async () => {
    const root = await mkdtemp(join(tmpdir(), "nbatch-claims-"));
    const dest = join(root, "dest");
    await mkdir(dest);
    const archive = async (index: number, text: string, mtimeMs?: number) => {
      const job = join(root, `job${index}`);
      await mkdir(job);
      await writeFile(join(job, "out.txt"), text);
      if (mtimeMs !== undefined) await utimes(join(job, "out.txt"), new Date(mtimeMs), new Date(mtimeMs));
      const e = (await statEntry(job, "out.txt"))!;
      const zip = join(root, `r${index}.zip`);
      await pipeline(packZip({ root: job, entries: [e], extra: [] }), createWriteStream(zip));
      return { zip, meta: new Map([[e.path, e]]) };
    };
    const claims = new RunClaims("abcd1234");
    const apply = async (index: number, text: string, mtimeMs?: number) => {
      const { zip, meta } = await archive(index, text, mtimeMs);
      return extractZip({ archivePath: zip, destRoot: dest, meta, baseline: new Map(), claims: claims.forTask(index), conflictTag: `abcd1234-${index}` });
    };
    expect((await apply(2, "two")).written).toEqual(["out.txt"]);
    expect((await apply(3, "two")).identical).toEqual(["out.txt"]);
    expect((await apply(1, "one")).conflicts).toEqual([{ path: "out.txt", savedAs: "out.txt.nbatch-abcd1234-2", kept: 1 }]);
    expect((await apply(4, "four")).conflicts).toEqual([{ path: "out.txt", savedAs: "out.txt.nbatch-abcd1234-4", kept: 1 }]);
    expect(await readFile(join(dest, "out.txt"), "utf8")).toBe("one");
    expect(await readFile(join(dest, "out.txt.nbatch-abcd1234-2"), "utf8")).toBe("two");
    expect(await readFile(join(dest, "out.txt.nbatch-abcd1234-4"), "utf8")).toBe("four");
    // Tasks can write a path in the same millisecond: at the holder's size and time, only the bytes tell.
    const held = (await statEntry(dest, "out.txt"))!;
    expect((await apply(5, "eno", held.mtimeMs)).conflicts).toEqual([{ path: "out.txt", savedAs: "out.txt.nbatch-abcd1234-5", kept: 1 }]);
    expect(await readFile(join(dest, "out.txt.nbatch-abcd1234-5"), "utf8")).toBe("eno");
    // Edited locally meanwhile: no task's any more, so kept as a local edit.
    await writeFile(join(dest, "out.txt"), "mine, longer");
    expect((await apply(0, "zero")).conflicts).toEqual([{ path: "out.txt", savedAs: "out.txt.nbatch-abcd1234-0" }]);
    expect(await readFile(join(dest, "out.txt"), "utf8")).toBe("mine, longer");
  });
});

describe("RateBudget", () => {
  it("lets the rate through at once, then waits until the window's oldest call ended a second ago, in order", async () => {
    const clock = createFakeClock(Date.UTC(2025, 0, 1), { autoAdvance: true });
    const budget = new RateBudget(5, clock);
    const start = clock.now();
    const at: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, i) => budget.call(async () => at.push(clock.now() - start) && i)));
    expect(at.map((t) => Math.round(t))).toEqual([0, 0, 0, 0, 0, 1000, 1000, 1000]);
    // No second, wherever it starts, sees more than the rate.
    for (const from of at) expect(at.filter((t) => t >= from && t < from + 1000).length).toBeLessThanOrEqual(5);
    // Three calls in the last second: room for two more now, not a third.
    const now = async () => clock.now();
    expect([budget.tryCall(now), budget.tryCall(now), budget.tryCall(now)].map((c) => c !== undefined)).toEqual([true, true, false]);
    expect(budget.calls).toBe(10);
  });

  it("counts a slow call from when it ended, so calls that reach the server late still never crowd one second", async () => {
    const clock = createFakeClock();
    const budget = new RateBudget(2, clock);
    let endSlow = () => {};
    const slow = budget.call(() => new Promise<void>((r) => (endSlow = r)));
    await budget.call(async () => undefined);
    let third: number | undefined;
    const next = budget.call(async () => void (third = clock.now()));
    await clock.advance(5000);
    expect(third).toBeUndefined();
    const ended = clock.now();
    endSlow();
    await slow;
    await clock.advance(999);
    expect(third).toBeUndefined();
    await clock.advance(1);
    await next;
    expect(third).toBe(ended + 1000);
  });
});

describe("ChildrenWatch", () => {
  const batch = mockClient(BatchClient);
  afterEach(() => batch.reset());
  const child = (i: number, status: string, extra: Partial<JobSummary> = {}): JobSummary => ({ jobId: `A:${i}`, jobName: "n", status: status as never, arrayProperties: { index: i }, ...extra });

  it("lists only the statuses whose counts moved, and finds each child that ended once", async () => {
    const clock = createFakeClock();
    const budget = new RateBudget(1000, clock);
    const watch = new ChildrenWatch(batch as never as BatchClient, budget, [{ jobId: "A", offset: 0, stride: 1, size: 3 }], 3);
    const parent = (summary: Record<string, number>, status = "PENDING") => ({ jobs: [{ jobId: "A", jobName: "n", jobQueue: "q", jobDefinition: "d", status: status as never, startedAt: 0, arrayProperties: { size: 3, statusSummary: summary } }] });
    batch.on(DescribeJobsCommand).resolvesOnce(parent({ RUNNING: 3 })).resolvesOnce(parent({ RUNNING: 3 })).resolves(parent({ SUCCEEDED: 2, FAILED: 1 }, "FAILED"));
    batch.on(ListJobsCommand, { jobStatus: "RUNNING" }).resolves({ jobSummaryList: [0, 1, 2].map((i) => child(i, "RUNNING")) });
    batch.on(ListJobsCommand, { jobStatus: "SUCCEEDED" }).resolves({ jobSummaryList: [child(0, "SUCCEEDED", { startedAt: 1, container: { exitCode: 0 } }), child(2, "SUCCEEDED", { startedAt: 1 })] });
    batch.on(ListJobsCommand, { jobStatus: "FAILED" }).resolves({ jobSummaryList: [child(1, "FAILED", { statusReason: "Dependent Job failed" })] });

    const first = await watch.poll();
    expect(first.changed.map((c) => c.status)).toEqual(["RUNNING", "RUNNING", "RUNNING"]);
    const quiet = await watch.poll();
    expect(quiet).toMatchObject({ changed: [], ended: [] });
    expect(batch.commandCalls(ListJobsCommand)).toHaveLength(1);
    const last = await watch.poll();
    expect(last.ended.map((e) => [e.position, e.status, e.ran, e.reason])).toEqual([
      [0, "SUCCEEDED", true, undefined],
      [2, "SUCCEEDED", true, undefined],
      [1, "FAILED", false, "Dependent Job failed"],
    ]);
    expect(watch.allEnded()).toBe(true);
    expect((await watch.poll()).ended).toEqual([]);
  });

  it("counts by the parent's statusSummary even when the budget has no room to list the children", async () => {
    const budget = new RateBudget(1, createFakeClock());
    const watch = new ChildrenWatch(batch as never as BatchClient, budget, [{ jobId: "A", offset: 0, stride: 1, size: 3 }], 3);
    batch.on(DescribeJobsCommand).resolves({ jobs: [{ jobId: "A", jobName: "n", jobQueue: "q", jobDefinition: "d", status: "PENDING", startedAt: 0, arrayProperties: { size: 3, statusSummary: { RUNNABLE: 1, RUNNING: 2 } } }] });
    const poll = await watch.poll();
    expect(batch.commandCalls(ListJobsCommand)).toHaveLength(0);
    expect(poll.changed).toEqual([]);
    expect(watch.counts()).toEqual({ RUNNABLE: 1, RUNNING: 2 });
  });
});

import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findRun, historyPath, KEEP_RECORDS, listRuns, MAX_RECORDS, recordRun, rememberLogs, type RunRecord } from "../../src/history.js";

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "nbatch-history-"));
});
afterEach(() => rm(home, { recursive: true, force: true }));

function record(n: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: `run-${n}`,
    jobId: `job-${n}`,
    jobName: `nbatch-dir-run-${n}`,
    dir: `/home/ada/dir${n}`,
    queue: "nbatch-job-queue",
    region: "us-east-1",
    bucket: "s3://lab/jobs",
    resultsUrl: `s3://lab/jobs/runs/run-${n}/results.zip`,
    inputsUrl: "s3://lab/jobs/inputs/abc.zip",
    submittedAt: 1_700_000_000_000 + n * 1000,
    command: ["make", `target${n}`],
    ...extra,
  };
}

describe("historyPath", () => {
  it("uses XDG_STATE_HOME when it is absolute, else ~/.local/state", () => {
    expect(historyPath({ HOME: "/h", XDG_STATE_HOME: "/state" })).toBe("/state/nbatch/history.jsonl");
    expect(historyPath({ HOME: "/h" })).toBe("/h/.local/state/nbatch/history.jsonl");
    expect(historyPath({ HOME: "/h", XDG_STATE_HOME: "" })).toBe("/h/.local/state/nbatch/history.jsonl");
    expect(historyPath({ HOME: "/h", XDG_STATE_HOME: "relative/state" })).toBe("/h/.local/state/nbatch/history.jsonl");
  });
});

describe("run history", () => {
  const env = () => ({ HOME: home });

  it("creates the file private to the user and lists runs newest first", async () => {
    await recordRun(env(), record(1));
    await recordRun(env(), record(3));
    await recordRun(env(), record(2));
    const path = join(home, ".local/state/nbatch/history.jsonl");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await listRuns(env())).map((r) => r.runId)).toEqual(["run-3", "run-2", "run-1"]);
    expect((await listRuns(env(), { limit: 2 })).map((r) => r.runId)).toEqual(["run-3", "run-2"]);
    expect(await listRuns(env())).toContainEqual(record(2));
  });

  it("orders runs submitted in the same millisecond by their place in the file", async () => {
    await recordRun(env(), record(1, { submittedAt: 5 }));
    await recordRun(env(), record(2, { submittedAt: 5 }));
    expect((await listRuns(env())).map((r) => r.runId)).toEqual(["run-2", "run-1"]);
  });

  it("is empty when there is no history yet", async () => {
    expect(await listRuns(env())).toEqual([]);
    expect(await findRun(env(), "job-1")).toBeUndefined();
  });

  it("finds a run by job id or run id, the newest when a job id repeats", async () => {
    await recordRun(env(), record(1));
    await recordRun(env(), record(2, { jobId: "job-1", dir: "/newer" }));
    expect((await findRun(env(), "job-1"))?.dir).toBe("/newer");
    expect((await findRun(env(), "run-1"))?.dir).toBe("/home/ada/dir1");
    expect(await findRun(env(), "job-9")).toBeUndefined();
  });

  it("skips malformed lines: truncated, foreign, missing or mistyped fields", async () => {
    const path = historyPath(env());
    await mkdir(dirname(path), { recursive: true });
    const good = [record(1), record(2)].map((r) => JSON.stringify(r));
    const { jobId: _, ...noJobId } = record(4);
    await writeFile(
      path,
      [
        good[0],
        good[1]!.slice(0, 40),
        "",
        "not json",
        "[1,2]",
        "null",
        JSON.stringify(noJobId),
        JSON.stringify(record(5, { submittedAt: "yesterday" as unknown as number })),
        JSON.stringify(record(6, { command: [1] as unknown as string[] })),
        good[1],
      ].join("\n") + "\n",
    );
    expect((await listRuns(env())).map((r) => r.runId)).toEqual(["run-2", "run-1"]);
  });

  it("appends whole lines when many builds record at once", async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => recordRun(env(), record(i, { command: ["x".repeat(2000)] }))));
    const lines = (await readFile(historyPath(env()), "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(50);
    expect((await listRuns(env())).length).toBe(50);
  });

  it("trims to the newest records once the file holds too many, leaving no temporary file", async () => {
    const path = historyPath(env());
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Array.from({ length: MAX_RECORDS }, (_, i) => JSON.stringify(record(i)) + "\n").join(""));
    expect(await listRuns(env())).toHaveLength(MAX_RECORDS);

    await recordRun(env(), record(MAX_RECORDS));
    const runs = await listRuns(env());
    expect(runs).toHaveLength(KEEP_RECORDS);
    expect(runs[0]!.runId).toBe(`run-${MAX_RECORDS}`);
    expect(runs.at(-1)!.runId).toBe(`run-${MAX_RECORDS - KEEP_RECORDS + 1}`);
    // Oldest first in the file, so later appends stay in order.
    const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
    expect(JSON.parse(lines.at(-1)!).runId).toBe(`run-${MAX_RECORDS}`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dirname(path))).toEqual(["history.jsonl"]);
  });

  it("counts only records, not junk lines, when deciding to trim", async () => {
    const path = historyPath(env());
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Array.from({ length: 10 }, (_, i) => JSON.stringify(record(i)) + "\n").join(""));
    await appendFile(path, `${"junk".repeat(100)}\n`.repeat(MAX_RECORDS + 10));
    await recordRun(env(), record(10));
    expect(await listRuns(env())).toHaveLength(11);
  });

  it("remembers a run's log group and streams in a line of their own, which older readers skip", async () => {
    await recordRun(env(), record(1));
    await recordRun(env(), record(2));
    await rememberLogs(env(), "run-1", "/nbatch/jobs", ["s1", undefined, "s3"]);
    expect(await findRun(env(), "job-1")).toMatchObject({ logGroup: "/nbatch/jobs", logStreams: ["s1", null, "s3"] });
    expect((await findRun(env(), "job-2"))?.logStreams).toBeUndefined();
    // Nothing new, or a run the history does not know: no line added.
    const lines = async () => (await readFile(historyPath(env()), "utf8")).trim().split("\n");
    const before = await lines();
    await rememberLogs(env(), "run-1", "/nbatch/jobs", ["s1", undefined, "s3"]);
    await rememberLogs(env(), "run-9", "/nbatch/jobs", ["s9"]);
    await rememberLogs(env(), "run-2", "/nbatch/jobs", []);
    expect(await lines()).toEqual(before);
    // The update line is not a record: a reader that knows nothing of updates finds the two records only.
    expect(before.map((l) => JSON.parse(l)).filter((v) => typeof v.runId === "string")).toHaveLength(2);
    // A later update wins.
    await rememberLogs(env(), "run-1", "/nbatch/jobs", ["s1", "s2", "s3"]);
    expect((await findRun(env(), "run-1"))?.logStreams).toEqual(["s1", "s2", "s3"]);
  });
});

import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { decodeTree } from "../../src/protocol-tree.js";
import { getText, listKeys, s3 } from "../support/aws.js";
import { spawnCli } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const events = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const arrayIdOf = (stderr: string) => /as array job (\S+)/.exec(stderr)![1]!;
const envOf = (submit: any) => Object.fromEntries(submit.containerOverrides.environment.map((e: { name: string; value: string }) => [e.name, e.value]));

describeWithMoto("nbatch build --aws-batch: fan-out", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("--each runs one task per matching path, in sorted order, with {} and NBATCH_ITEM, and brings every task's results home", async () => {
    const dir = await w.makeDir("each", { "samples/b.fq": "bb", "samples/a.fq": "a", "samples/c.fq": "ccc", "samples/notes.txt": "x", "count.sh": { text: '#!/bin/sh\nmkdir -p out\nwc -c < "$1" | tr -d " " > "out/$(basename "$1").n"\necho "$NBATCH_INDEX $NBATCH_ITEM $AWS_BATCH_JOB_ARRAY_INDEX" > "out/$NBATCH_INDEX.env"\n', mode: 0o755 } });
    const r = await w.nbatch(["build", "--aws-batch", "--each", "samples/*.fq", dir, "--", "./count.sh", "{}"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Submitted 3 tasks as array job \S+ \(nbatch-each-[0-9a-f-]+\) to queue nbatch-job-queue/);
    expect(r.stderr).toContain("Tasks: all 3 SUCCEEDED");
    expect(r.stderr).toMatch(/Results of 3 of 3 tasks: 6 files written/);
    expect(await readFile(join(dir, "out/a.fq.n"), "utf8")).toBe("1\n");
    expect(await readFile(join(dir, "out/c.fq.n"), "utf8")).toBe("3\n");
    expect(await readFile(join(dir, "out/1.env"), "utf8")).toBe("1 samples/b.fq 1\n");
    // The protocol: one array job, its task list and each task's results in S3.
    const submit = w.submits().at(-1);
    expect(submit.arrayProperties).toEqual({ size: 3 });
    expect(submit.dependsOn).toBeUndefined();
    const env = envOf(submit);
    expect(env.NBATCH_PROTOCOL).toBe("2");
    // Every task assembles the one tree the run uploaded.
    expect(env.NBATCH_INPUTS_URL).toMatch(/\/inputs\/trees\/[0-9a-f]{64}\.json\.gz$/);
    expect(env.NBATCH_RESULTS_URL).toMatch(/\/runs\/[0-9a-f-]+\/tasks\/\{index\}\/results\.zip$/);
    expect([env.NBATCH_TASK_OFFSET, env.NBATCH_TASK_STRIDE]).toEqual(["0", "1"]);
    const runId = env.NBATCH_RUN_ID;
    expect(JSON.parse(await getText(w.bucket, `jobs/runs/${runId}/tasks.json`))).toEqual([
      { index: 0, item: "samples/a.fq" },
      { index: 1, item: "samples/b.fq" },
      { index: 2, item: "samples/c.fq" },
    ]);
    // Each task keeps its own results and its own copy of its log.
    expect(env.NBATCH_LOG_URL).toMatch(/\/runs\/[0-9a-f-]+\/tasks\/\{index\}\/log\.gz$/);
    expect(await listKeys(w.bucket, `jobs/runs/${runId}/tasks/`)).toEqual([0, 1, 2].flatMap((i) => [`jobs/runs/${runId}/tasks/${i}/log.gz`, `jobs/runs/${runId}/tasks/${i}/results.zip`]));
  });

  it("a failing task: told at once with its last lines, the others' results kept, the lowest failed task's exit code, and --rerun-failed runs only it", async () => {
    const dir = await w.makeDir("fails", { "in.txt": "input\n" });
    const script = 'mkdir -p out; echo "$NBATCH_INDEX" > out/$NBATCH_INDEX.txt; if [ "$NBATCH_INDEX" = 1 ] && [ "$TRY" = first ]; then echo "task one is broken" >&2; exit 3; fi';
    const r = await w.nbatch(["build", "--aws-batch", "--array", "3", "--env", "TRY=first", dir, "--", "sh", "-c", script]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Task 1 FAILED \(exited 3\)/);
    expect(r.stdout).toMatch(/^\[task 1\] \[[^\]]+\] task one is broken$/m);
    expect(r.stderr).toMatch(/Tasks: 2 of 3 SUCCEEDED, 1 FAILED after .*the exit code is task 1's/);
    expect((await readdir(join(dir, "out"))).sort()).toEqual(["0.txt", "1.txt", "2.txt"]);
    const runId = /--rerun-failed (\S+)/.exec(r.stderr)![1]!;
    // The --env values were deleted when the run ended: a rerun needs them again.
    const refused = await w.nbatch(["build", "--rerun-failed", runId, dir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^nbatch: error: run \S+ was given --env values, which nbatch deletes once a run ends: give them again with --env$/);

    // A pack the first run's tree names is gone: the rerun says so before it submits anything.
    const tree = envOf(w.submits().at(-1)).NBATCH_INPUTS_URL as string;
    const bytes = async (Key: string) => (await s3().send(new GetObjectCommand({ Bucket: w.bucket, Key }))).Body!.transformToByteArray();
    const treeKey = tree.slice(`s3://${w.bucket}/`.length);
    const [id] = decodeTree(Buffer.from(await bytes(treeKey)), "the tree").packs;
    const pack = treeKey.replace(/trees\/[^/]+$/, `packs/${id}.zip`);
    const body = await bytes(pack);
    await s3().send(new DeleteObjectCommand({ Bucket: w.bucket, Key: pack }));
    const submits = w.submits().length;
    const expired = await w.nbatch(["build", "--rerun-failed", runId, "--env", "TRY=second", dir]);
    expect(expired.code).toBe(1);
    expect(expired.stderr.trim()).toBe(`nbatch: error: the inputs of run ${runId} (s3://${w.bucket}/${pack}) are gone, expired by the bucket's lifecycle rule or deleted: run the tasks afresh with nbatch build`);
    expect(w.submits().length).toBe(submits);
    await s3().send(new PutObjectCommand({ Bucket: w.bucket, Key: pack, Body: body }));

    const again = await w.nbatch(["build", "--rerun-failed", runId, "--env", "TRY=second", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`Running 1 failed task of run ${runId} again (1)`);
    expect(again.stderr).toContain("Tasks: all 1 SUCCEEDED");
    const rerun = w.submits().at(-1);
    expect(rerun.arrayProperties).toBeUndefined();
    expect(rerun.containerOverrides.command).toEqual(["nbatch", "agent", "--", "sh", "-c", script]);
    const rerunEnv = envOf(rerun);
    expect(rerunEnv.NBATCH_INPUTS_URL).toBe(envOf(w.submits().at(-2)).NBATCH_INPUTS_URL);
    expect(JSON.parse(await getText(w.bucket, `jobs/runs/${rerunEnv.NBATCH_RUN_ID}/tasks.json`))).toEqual([{ index: 1 }]);
    const nothing = await w.nbatch(["build", "--rerun-failed", rerunEnv.NBATCH_RUN_ID, dir]);
    expect(nothing.stderr).toContain("All 1 task of run");
    expect(nothing.code).toBe(0);
  });

  it("two tasks that wrote a path differently: the lowest index keeps it whatever finished first, the other beside it; identical writes are no conflict", async () => {
    const dir = await w.makeDir("conflict", { "keep.txt": "local" });
    // Task 0 finishes last, so its version must displace the ones already applied.
    const script = '[ "$NBATCH_INDEX" = 0 ] && sleep 1.5; echo "from $NBATCH_INDEX" > shared.txt; echo same > same.txt';
    const r = await w.nbatch(["build", "--aws-batch", "--array", "3", "--json", dir, "--", "sh", "-c", script]);
    expect(r.code, r.stderr).toBe(0);
    const runId = events(r.stdout).find((e) => e.type === "submitted").runId as string;
    const run8 = runId.slice(-8);
    expect(await readFile(join(dir, "shared.txt"), "utf8")).toBe("from 0\n");
    expect(await readFile(join(dir, `shared.txt.nbatch-${run8}-1`), "utf8")).toBe("from 1\n");
    expect(await readFile(join(dir, `shared.txt.nbatch-${run8}-2`), "utf8")).toBe("from 2\n");
    expect(await readFile(join(dir, "same.txt"), "utf8")).toBe("same\n");
    expect((await readdir(dir)).filter((f) => f.startsWith("same.txt"))).toEqual(["same.txt"]);
    // Told as they settle: the first two to finish, then task 0 against the one that held the path.
    expect(r.stderr.match(/shared\.txt: tasks \d and \d wrote different contents; task \d's stays \(the lower index keeps a path\)/g)).toHaveLength(2);
    const evs = events(r.stdout);
    expect(evs.filter((e) => e.type === "task-result").map((e) => e.index).sort()).toEqual([0, 1, 2]);
    expect(evs.filter((e) => e.type === "task" && e.status === "SUCCEEDED")).toHaveLength(3);
    expect(evs.find((e) => e.type === "download" && e.index === 0 && e.path === "shared.txt")?.action).toBe("conflict");
    expect(evs.at(-1)).toMatchObject({ type: "exit", code: 0, status: "SUCCEEDED", tasks: 3, failed: 0 });
  });

  it("--array-parallel K: K lanes of SEQUENTIAL arrays, never more than K tasks at once; a failure ends the rest of its lane, told as not run", async () => {
    const dir = await w.makeDir("lanes", {});
    const r = await w.nbatch(["build", "--aws-batch", "--array", "5", "--array-parallel", "2", dir, "--", "sh", "-c", '[ "$NBATCH_INDEX" != 2 ]']);
    expect(r.code).toBe(1);
    const [lane0, lane1] = w.submits().slice(-2);
    expect([lane0.arrayProperties, lane0.dependsOn, envOf(lane0).NBATCH_TASK_OFFSET, envOf(lane0).NBATCH_TASK_STRIDE]).toEqual([{ size: 3 }, [{ type: "SEQUENTIAL" }], "0", "2"]);
    expect([lane1.arrayProperties, envOf(lane1).NBATCH_TASK_OFFSET]).toEqual([{ size: 2 }, "1"]);
    expect(r.stderr).toMatch(/Task 2 FAILED \(exited 1\)/);
    expect(r.stderr).toMatch(/Task 4 FAILED \(not run\): Dependent Job failed/);
    expect(r.stderr).toMatch(/Tasks: 3 of 5 SUCCEEDED, 2 FAILED \(1 not run\)/);
    // At no moment did more than two children run.
    const ids = w.executor.jobs().filter((j) => j.jobId!.includes(":") && j.startedAt).filter((j) => [lane0, lane1].some((l) => j.jobName === l.jobName));
    const overlap = ids.map((a) => ids.filter((b) => b.startedAt! <= a.startedAt! && (b.stoppedAt ?? Infinity) > a.startedAt!).length);
    expect(Math.max(...overlap)).toBeLessThanOrEqual(2);
  });

  it("--detach, then --attach brings every task's results home; status, logs and ls show the run as one", async () => {
    const dir = await w.makeDir("detached", {});
    const d = await w.nbatch(["build", "--aws-batch", "--array", "2", "--detach", dir, "--", "sh", "-c", 'sleep 1; echo "hello from $NBATCH_INDEX"; echo $NBATCH_INDEX > made-$NBATCH_INDEX.txt']);
    expect(d.code).toBe(0);
    const arrayId = arrayIdOf(d.stderr);
    const attach = /Re-attach with:\n\s+(nbatch build .*)/.exec(d.stderr)![1]!;
    expect(attach).toBe(`nbatch build --attach ${arrayId} ${dir}`);
    const a = await w.nbatch([...attach.split(" ").slice(1), "--follow-child", "1"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^\[task 1\] \[[^\]]+\] hello from 1$/m);
    expect(a.stdout).not.toContain("hello from 0");
    expect(await readFile(join(dir, "made-0.txt"), "utf8")).toBe("0\n");
    expect(await readFile(join(dir, "made-1.txt"), "utf8")).toBe("1\n");

    const s = await w.nbatch(["status", arrayId]);
    expect(s.stdout).toMatch(new RegExp(`${arrayId}\\s+nbatch-detached-\\S+\\s+SUCCEEDED \\(2 SUCCEEDED\\)`));
    const one = await w.nbatch(["status", "--json", `${arrayId}:1`]);
    expect(JSON.parse(one.stdout)).toMatchObject({ jobId: `${arrayId}:1`, status: "SUCCEEDED", exitCode: 0 });
    const logs = await w.nbatch(["logs", `${arrayId}:0`]);
    expect(logs.stdout).toMatch(/\] hello from 0$/m);
    const ls = await w.nbatch(["ls", "--json"]);
    expect(events(ls.stdout).find((e) => e.jobId === arrayId)).toMatchObject({ status: "SUCCEEDED", tasks: { SUCCEEDED: 2 }, lanes: [arrayId] });
  });

  it("one SIGINT (stdin not a terminal) cancels every task; what they made comes home; exit 130", async () => {
    const dir = await w.makeDir("cancel", {});
    const gate = w.gate();
    const p = spawnCli(["build", "--aws-batch", "--array", "2", "--follow-child", "0", dir, "--", "sh", "-c", `echo partial > p-$NBATCH_INDEX.txt; echo up; ${gate.wait}; sleep 60`], { env: w.env });
    await p.waitForOutput("] up", 30_000);
    p.kill("SIGINT");
    const r = await p.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("Cancelling the 2 tasks of run");
    const arrayId = arrayIdOf(r.stderr);
    expect(w.executor.requests.some((q) => q.operation === "TerminateJob" && q.body.jobId === arrayId)).toBe(true);
    expect(w.executor.jobs().filter((j) => j.jobId!.startsWith(`${arrayId}:`)).map((j) => j.status)).toEqual(["FAILED", "FAILED"]);
    expect(await readFile(join(dir, "p-0.txt"), "utf8")).toBe("partial\n");
  });

  it("SIGHUP detaches a run of lanes; nbatch cancel <array-id> ends every child of every lane; --attach brings what they made home", async () => {
    const dir = await w.makeDir("hangup", {});
    const gate = w.gate();
    const p = spawnCli(["build", "--aws-batch", "--array", "3", "--array-parallel", "2", "--follow-child", "1", dir, "--", "sh", "-c", `echo made > m-$NBATCH_INDEX.txt; echo up; ${gate.wait}; sleep 60`], { env: w.env });
    await p.waitForOutput("] up", 30_000);
    p.kill("SIGHUP");
    const d = await p.result;
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/Detached; the 3 tasks of run \S+ go on in AWS Batch/);
    const arrayId = arrayIdOf(d.stderr);
    const lanes = w.submits().slice(-2);
    const laneJobs = w.executor.jobs().filter((j) => !j.jobId!.includes(":") && lanes.some((l) => l.jobName === j.jobName));
    const terminated = () => w.executor.requests.filter((q) => q.operation === "TerminateJob" && laneJobs.some((l) => l.jobId === q.body.jobId)).map((q) => q.body.jobId);
    expect(terminated()).toEqual([]);

    const c = await w.nbatch(["cancel", "--wait", arrayId]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/Cancelling the 3 tasks of run/);
    expect(terminated().sort()).toEqual(laneJobs.map((j) => j.jobId).sort());
    const children = w.executor.jobs().filter((j) => j.jobId!.includes(":") && laneJobs.some((l) => j.jobId!.startsWith(`${l.jobId}:`)));
    // Lane 0 is an array of tasks 0 and 2; lane 1, of task 1 alone, a plain job.
    expect(children.map((j) => j.status)).toEqual(["FAILED", "FAILED"]);
    const laneIds = laneJobs.map((l) => l.jobId);
    expect(w.executor.jobs().filter((j) => laneIds.includes(j.jobId)).map((j) => j.status)).toEqual(["FAILED", "FAILED"]);

    const attach = /Re-attach with:\n\s+(nbatch build .*)/.exec(d.stderr)![1]!;
    const a = await w.nbatch(attach.split(" ").slice(1));
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/Tasks: 0 of 3 SUCCEEDED, 3 FAILED/);
    expect(await readFile(join(dir, "m-0.txt"), "utf8")).toBe("made\n");
    expect(await readFile(join(dir, "m-1.txt"), "utf8")).toBe("made\n");
  });

  it("refuses what makes no sense in one line before anything is uploaded", async () => {
    const dir = await w.makeDir("refused", { "a.txt": "a" });
    const cases: [string[], RegExp, number][] = [
      [["--array", "1"], /invalid --array "1": use a whole number of tasks from 2 to 10000/, 2],
      [["--array", "2", "--each", "*.txt"], /--array and --each conflict/, 2],
      [["--array-parallel", "2"], /--array-parallel goes with --array, --each or --rerun-failed/, 2],
      [["--each", "*.fq"], /--each '\*\.fq' matched no path of .* that is uploaded/, 1],
      [["--array", "2", "--follow-child", "5"], /--follow-child 5: the run has no such task \(it has 2 tasks, 0 to 1\)/, 2],
    ];
    const before = await listKeys(w.bucket, "jobs/");
    for (const [flags, message, code] of cases) {
      const r = await w.nbatch(["build", "--aws-batch", ...flags, dir, "--", "true"]);
      expect(r.stderr.trim()).toMatch(new RegExp(`^nbatch: error: ${message.source}`));
      expect(r.code).toBe(code);
    }
    expect(await listKeys(w.bucket, "jobs/")).toEqual(before);
  });
});

describeWithMoto("nbatch build --local: fan-out on this machine", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("runs each task as a process of its own, at most --array-parallel at once, with the same results rule and exit code", async () => {
    const dir = await w.makeDir("local-each", { "in/x.txt": "x", "in/y.txt": "yy", "in/z.txt": "zzz" });
    const script = 'echo "$NBATCH_INDEX" >> seen.txt; cp {} "{}.copy"; [ "$NBATCH_INDEX" != 2 ] || { echo "z went wrong"; exit 5; }';
    const r = await w.nbatch(["build", "--local", "--each", "in/*.txt", "--array-parallel", "2", dir, "--", "sh", "-c", script]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/Task 2 \(in\/z\.txt\) FAILED \(exited 5\)/);
    expect(r.stdout).toMatch(/^\[task 2\] \[[^\]]+\] z went wrong$/m);
    expect(r.stderr).toMatch(/Tasks: 2 of 3 SUCCEEDED, 1 FAILED/);
    expect(await readFile(join(dir, "in/y.txt.copy"), "utf8")).toBe("yy");
    expect(await readFile(join(dir, "in/z.txt.copy"), "utf8")).toBe("zzz");
    // Each task appended to its own copy of seen.txt: the lowest keeps the path, the others go beside it.
    expect(await readFile(join(dir, "seen.txt"), "utf8")).toBe("0\n");
    expect((await readdir(dir)).filter((f) => f.startsWith("seen.txt.nbatch-")).length).toBe(2);
  });
});

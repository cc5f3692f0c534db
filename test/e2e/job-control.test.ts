import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listKeys, s3 } from "../support/aws.js";
import { spawnCli } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const exists = (path: string) => stat(path).then(() => true, () => false);
const events = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));

describeWithMoto("nbatch build: job control", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ stepDelayMs: 100 });
  });
  afterAll(() => w?.stop());

  it("--detach returns after submission with the exact re-attach command, which brings the results home", async () => {
    // The job changes a file left alone here: knowing what was uploaded (the tree), --attach replaces it.
    const dir = await w.makeDir("detach", { "notes.txt": "before\n" });
    const r = await w.nbatch(["build", "--aws-batch", "--detach", dir, "--", "sh", "-c", "sleep 1; echo late > late.txt; echo after > notes.txt; echo finished"]);
    expect(r.code).toBe(0);
    const jobId = /Submitted job (\S+)/.exec(r.stderr)![1]!;
    // The id alone on stdout, for id=$(nbatch build --detach ...), even with --quiet.
    expect(r.stdout).toBe(`${jobId}\n`);
    const attach = /Re-attach with:\n\s+(nbatch build .*)/.exec(r.stderr)![1]!;
    expect(attach).toBe(`nbatch build --attach ${jobId} ${dir}`);
    expect(await exists(join(dir, "late.txt"))).toBe(false);
    const again = await w.nbatch(attach.split(" ").slice(1));
    expect(again.stderr).toMatch(/Job status: (RUNNING|RUNNABLE|STARTING|PENDING|SUBMITTED)|Job SUCCEEDED/);
    expect(again.stdout).toMatch(/\] finished$/m);
    expect(again.code).toBe(0);
    expect(await readFile(join(dir, "late.txt"), "utf8")).toBe("late\n");
    expect(await readFile(join(dir, "notes.txt"), "utf8")).toBe("after\n");
    expect(again.stderr).not.toMatch(/gone|kept/);
  });

  it("--attach without a directory downloads into the one the run history records, and says so", async () => {
    const dir = await w.makeDir("attach-recorded", {});
    const jobId = (await w.nbatch(["build", "--aws-batch", "--detach", dir, "--", "sh", "-c", "echo made > made.txt"])).stdout.trim();
    const r = await w.nbatch(["build", "--attach", jobId]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Downloading into ${dir}, the directory job ${jobId} was submitted from (run history)\n`);
    expect(await readFile(join(dir, "made.txt"), "utf8")).toBe("made\n");

    // Not in this machine's history: the directory must be given.
    const elsewhere = { ...w.env, XDG_STATE_HOME: join(w.home, "other-state") };
    expect(await w.nbatch(["build", "--attach", jobId], { env: elsewhere })).toMatchObject({
      code: 2,
      stderr: `nbatch: error: no directory given, and this machine's run history does not know job ${jobId}: give the directory to download into (nbatch build --attach ${jobId} DIR), or --no-download\n`,
    });
    // A recorded directory that is gone, and a given one that does not exist, are one line each.
    await rm(dir, { recursive: true });
    expect(await w.nbatch(["build", "--attach", jobId])).toMatchObject({
      code: 1,
      stderr: `nbatch: error: job ${jobId} was submitted from ${dir}, which is no longer a directory: give the directory to download into (nbatch build --attach ${jobId} DIR)\n`,
    });
    expect(await w.nbatch(["build", "--attach", jobId, join(w.home, "nosuch")])).toMatchObject({ code: 1, stderr: `nbatch: error: ${join(w.home, "nosuch")}: no such directory\n` });
  });

  it("-v lists each file that came back and how long upload, wait, run and download took", async () => {
    const dir = await w.makeDir("verbose-batch", { "in.txt": "in" });
    const r = await w.nbatch(["-v", "build", "--aws-batch", dir, "--", "sh", "-c", "echo out > out.txt"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n");
    expect(lines).toContain("  wrote out.txt");
    expect(lines).toContainEqual(expect.stringMatching(/^Took: upload \d+\.\d s, wait \d+\.\d s, run \d+\.\d s, download \d+\.\d s$/));
  });

  it("--attach of a finished job shows its whole log, and --no-logs / --no-download do what they say", async () => {
    const dir = await w.makeDir("attach-done", {});
    const first = await w.nbatch(["build", "--aws-batch", "--no-logs", "--no-download", dir, "--", "sh", "-c", "for i in 1 2 3; do echo line $i; done; echo x > made.txt"]);
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain("line 1");
    expect(await exists(join(dir, "made.txt"))).toBe(false);
    const jobId = /Submitted job (\S+)/.exec(first.stderr)![1]!;
    const r = await w.nbatch(["build", "--attach", jobId, dir]);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/\] line \d$/gm)).toEqual(["] line 1", "] line 2", "] line 3"]);
    expect(await readFile(join(dir, "made.txt"), "utf8")).toBe("x\n");
  });

  it("--attach --cancel stops a running job at once, without a directory", async () => {
    const dir = await w.makeDir("cancel", {});
    const r = await w.nbatch(["build", "--aws-batch", "--detach", "--quiet", dir, "--", "sleep", "60"]);
    const jobId = r.stdout.trim();
    expect(r.stderr).toBe("");
    const started = Date.now();
    const c = await w.nbatch(["build", "--attach", jobId, "--cancel"]);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(c.stderr).toContain(`Cancelling job ${jobId}`);
    expect(c.stderr).toMatch(/Job FAILED/);
    expect(c.code).toBe(130);
    expect(w.executor.requests.some((q) => q.operation === "TerminateJob" && q.body.jobId === jobId)).toBe(true);
  });

  it("one SIGINT (stdin not a terminal) cancels the job, shows its last lines and downloads what it left", async () => {
    const dir = await w.makeDir("sigint", {});
    const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", "echo started; echo partial > partial.txt; trap 'echo got TERM; exit 143' TERM; sleep 60 & wait"], { env: w.env });
    await p.waitForOutput("] started", 30_000);
    p.kill("SIGINT");
    const r = await p.result;
    expect(r.stderr).toContain("Cancelling job");
    expect(r.stdout).toMatch(/\] got TERM$/m);
    expect(r.code).toBe(130);
    const terminate = w.executor.requests.filter((q) => q.operation === "TerminateJob").at(-1);
    expect(terminate?.body.reason).toMatch(/^Cancelled by nbatch \(.+@.+\)$/);
    expect(await readFile(join(dir, "partial.txt"), "utf8")).toBe("partial\n");
  });

  it("SIGTSTP (Ctrl-Z) and SIGHUP detach and print the re-attach command; the job keeps running", async () => {
    for (const sig of ["SIGTSTP", "SIGHUP"] as const) {
      const dir = await w.makeDir(`detach-${sig}`, {});
      const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", "echo up; sleep 2"], { env: w.env });
      await p.waitForOutput("] up", 30_000);
      p.kill(sig);
      const r = await p.result;
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/Detached; job \S+ goes on running/);
      expect(r.stderr).toContain(`nbatch build --attach`);
      const jobId = /Submitted job (\S+)/.exec(r.stderr)![1]!;
      expect(w.executor.requests.some((q) => q.operation === "TerminateJob" && q.body.jobId === jobId)).toBe(false);
    }
  });

  it("--detach-on-interrupt makes SIGINT detach instead of cancel", async () => {
    const dir = await w.makeDir("doi", {});
    const p = spawnCli(["build", "--aws-batch", "--detach-on-interrupt", dir, "--", "sh", "-c", "echo up; sleep 2"], { env: w.env });
    await p.waitForOutput("] up", 30_000);
    p.kill("SIGINT");
    const r = await p.result;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Detached");
    expect(r.stderr).toContain("Ctrl-C, Ctrl-Z or SIGHUP detaches");
  });

  it("SIGINT during the upload aborts it: no multipart upload left, nothing submitted, exit 130", async () => {
    const dir = await w.makeDir("big", {});
    for (let i = 0; i < 4; i++) await writeFile(join(dir, `blob${i}.bin`), randomBytes(48 * 1024 * 1024));
    const submitsBefore = w.submits().length;
    const p = spawnCli(["build", "--aws-batch", dir, "--", "true"], { env: w.env });
    await p.waitForOutput("Uploading", 30_000);
    await new Promise((r) => setTimeout(r, 300));
    p.kill("SIGINT");
    const r = await p.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/Interrupted .*nothing was submitted/);
    expect(w.submits().length).toBe(submitsBefore);
    const client = s3();
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: w.bucket }));
    client.destroy();
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await listKeys(w.bucket, "jobs/inputs/")).not.toContainEqual(expect.stringMatching(/big/));
  });

  it("--download and --exclude-from-download choose what comes back; nothing else is written", async () => {
    const dir = await w.makeDir("select", {});
    const r = await w.nbatch([
      "build", "--aws-batch", "--download", "results/**", "--download", "*.{csv,tsv}", "--download", "!results/tmp/**", "--exclude-from-download", "*.log", dir,
      "--", "sh", "-c", "mkdir -p results/tmp other; touch results/a.txt results/b.log results/tmp/x other/c.txt d.csv e.tsv f.json",
    ]);
    expect(r.code).toBe(0);
    const present = await Promise.all(["results/a.txt", "results/b.log", "results/tmp/x", "other/c.txt", "d.csv", "e.tsv", "f.json"].map((p) => exists(join(dir, p))));
    expect(present).toEqual([true, false, false, false, true, true, false]);
  });

  it("--download of a few entries reads just those with ranged GETs; a selection of most of the archive fetches it whole", async () => {
    const { proxy, env } = await w.proxy();
    const job = ["--", "sh", "-c", "head -c 3000000 /dev/urandom > big.bin; echo done > summary.txt"];
    const resultsGets = () => proxy.requests.filter((q) => q.operation === "GetObject" && q.key?.endsWith("/results.zip"));

    const few = await w.makeDir("ranged", {});
    const r = await w.nbatch(["build", "--aws-batch", "--download", "summary.txt", few, ...job], { env });
    expect(r.code).toBe(0);
    expect(await readFile(join(few, "summary.txt"), "utf8")).toBe("done\n");
    expect(await exists(join(few, "big.bin"))).toBe(false);
    expect(resultsGets().length).toBeGreaterThan(1);
    expect(resultsGets().every((q) => /^bytes=\d+-\d+$/.test(String(q.headers.range)))).toBe(true);

    const before = resultsGets().length;
    const most = await w.makeDir("ranged-most", {});
    expect((await w.nbatch(["build", "--aws-batch", "--download", "big.bin", most, ...job], { env })).code).toBe(0);
    expect((await stat(join(most, "big.bin"))).size).toBe(3_000_000);
    expect(resultsGets().slice(before).some((q) => q.headers.range === undefined)).toBe(true);
  });

  it("--dry-run prints what would be uploaded and the SubmitJob request, making only read-only calls", async () => {
    const dir = await w.makeDir("dry", { "a.txt": "a", ".env": "SECRET=1", "__pycache__/m.pyc": "x", "data/big.txt": "bbb" });
    const before = w.executor.requests.length;
    const keysBefore = await listKeys(w.bucket);
    const r = await w.nbatch(["build", "--aws-batch", "--dry-run", "--exclude-from-upload", "data/", dir, "--", "make"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Would upload 1 file, 1 B from .*, and the tree of the directory; would reuse 0 files, 0 B already in S3/);
    expect(r.stderr).toMatch(/\.env\s+\(default: \.env\)/);
    expect(r.stderr).toMatch(/__pycache__\s+\(default: __pycache__\/\)/);
    expect(r.stderr).toMatch(/data\s+\(data\/\)/);
    expect(r.stderr).toContain('"command": [');
    expect(r.stderr).toContain('"jobQueue": "nbatch-job-queue"');
    const ops = w.executor.requests.slice(before).map((q) => q.operation);
    expect(ops.every((op) => op.startsWith("Describe"))).toBe(true);
    expect(await listKeys(w.bucket)).toEqual(keysBefore);
  });

  it("--json prints NDJSON events on stdout; with --detach the job id is on one line", async () => {
    const dir = await w.makeDir("json", {});
    const r = await w.nbatch(["build", "--aws-batch", "--json", dir, "--", "sh", "-c", "echo hello json; touch out.txt"]);
    expect(r.code).toBe(0);
    const evs = events(r.stdout);
    const types = evs.map((e) => e.type);
    expect(types[0]).toBe("run");
    expect(types).toContain("submitted");
    expect(types).toContain("status");
    expect(evs.find((e) => e.type === "log" && e.message === "hello json")).toBeTruthy();
    expect(evs.find((e) => e.type === "download" && e.path === "out.txt")?.action).toBe("written");
    expect(evs.at(-1)).toMatchObject({ type: "exit", code: 0, status: "SUCCEEDED", jobExitCode: 0 });
    expect(r.stderr).toContain("hello json");

    const d = await w.nbatch(["build", "--aws-batch", "--json", "--detach", dir, "--", "true"]);
    const submitted = d.stdout.split("\n").filter((l) => l.includes('"submitted"'));
    expect(submitted).toHaveLength(1);
    expect(JSON.parse(submitted[0]!).jobId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("--retries, --timeout and --tag reach Batch; each attempt's log is shown", async () => {
    const dir = await w.makeDir("retry", {});
    const r = await w.nbatch(["build", "--aws-batch", "--retries", "2", "--retry-on", "any", "--timeout", "90m", "--tag", "project=flu", "--tag", "owner=ada", dir, "--", "sh", "-c", "echo try $AWS_BATCH_JOB_ATTEMPT; exit 4"]);
    expect(r.code).toBe(4);
    const submit = w.submits().at(-1);
    expect(submit.retryStrategy).toEqual({ attempts: 3 });
    expect(submit.timeout).toEqual({ attemptDurationSeconds: 5400 });
    expect(submit.tags).toMatchObject({ project: "flu", owner: "ada" });
    expect(submit.propagateTags).toBe(true);
    for (const n of [1, 2, 3]) expect(r.stderr).toContain(`Log of attempt ${n} of 3`);
    expect(r.stdout.match(/\] try \d$/gm)).toEqual(["] try 1", "] try 2", "] try 3"]);
  });
});

describeWithMoto("nbatch build --attach: after Batch forgot the job", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("brings its results home through the local run history", async () => {
    const dir = await w.makeDir("forgotten", {});
    const first = await w.nbatch(["build", "--aws-batch", "--no-download", dir, "--", "sh", "-c", "echo kept > kept.txt; exit 5"]);
    expect(first.code).toBe(5);
    const jobId = /Submitted job (\S+)/.exec(first.stderr)![1]!;
    w.executor.forget(jobId);
    const r = await w.nbatch(["build", "--attach", jobId, dir]);
    expect(r.stderr).toContain(`Batch no longer knows job ${jobId}`);
    expect(r.code).toBe(5);
    expect(await readFile(join(dir, "kept.txt"), "utf8")).toBe("kept\n");
  });

  it("an id known neither to Batch nor to the history is one clear line, exit 1", async () => {
    const r = await w.nbatch(["build", "--attach", "00000000-0000-0000-0000-000000000000", "--no-download"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^nbatch: error: job 0{8}-.* not found in us-east-1, nor in this machine's run history/);
  });
});

describeWithMoto("nbatch build: retries, run ids and ended jobs", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("keeps --env values for a retry, and deletes them once the job is over", async () => {
    const dir = await w.makeDir("env-retry", {});
    const r = await w.nbatch(["build", "--aws-batch", "--retries", "1", "--retry-on", "any", "--env", "TOKEN=v2", dir, "--", "sh", "-c", 'echo "$TOKEN" > seen.txt; [ "$AWS_BATCH_JOB_ATTEMPT" = 2 ]']);
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "seen.txt"), "utf8")).toBe("v2\n");
    expect((await listKeys(w.bucket, "jobs/runs/")).filter((k) => k.endsWith("env.json"))).toEqual([]);
  });

  it("--attach takes a run id from the history, and --cancel leaves an ended job alone", async () => {
    const dir = await w.makeDir("by-run-id", {});
    const first = await w.nbatch(["build", "--aws-batch", "--json", "--detach", dir, "--", "sh", "-c", "sleep 1; echo via run id"]);
    const { runId, jobId } = events(first.stdout).find((e) => e.type === "submitted");
    const r = await w.nbatch(["build", "--attach", runId, dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\] via run id$/m);
    const c = await w.nbatch(["build", "--attach", jobId, "--cancel", "--no-download"]);
    expect(c.stderr).toContain(`nothing to cancel: job ${jobId} has already ended`);
    expect(c.code).toBe(0);
    expect(w.executor.requests.some((q) => q.operation === "TerminateJob" && q.body.jobId === jobId)).toBe(false);
  });

  it("the local runner honours --no-download and still exits with the command's status", async () => {
    const dir = await w.makeDir("local-no-download", {});
    const r = await w.nbatch(["build", "--local", "--no-download", dir, "--", "sh", "-c", "touch made.txt; exit 4"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("Results not applied (--no-download)");
    expect(await exists(join(dir, "made.txt"))).toBe(false);
  });
});

describeWithMoto("nbatch build --json on an error", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("ends the event stream with an exit event that says why", async () => {
    const dir = await w.makeDir("json-error", {});
    const r = await w.nbatch(["build", "--aws-batch", "--json", "--aws-batch-queue", "no-such-queue", dir, "--", "true"]);
    expect(r.code).toBe(1);
    const last = events(r.stdout).at(-1);
    expect(last).toMatchObject({ type: "exit", code: 1 });
    expect(last.error).toMatch(/job queue "no-such-queue" not found/);
  });
});

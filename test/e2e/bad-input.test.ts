import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listKeys, s3 } from "../support/aws.js";
import { nbatchBin, repoRoot, runCli, type CliResult } from "../support/cli.js";
import { startBatchExecutor, type BatchExecutor } from "../support/executor.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { describeWithMoto, motoEndpoint } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

/** moto's account: the owner of every bucket it has. */
const ACCOUNT = "123456789012";
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

interface Case {
  /** Also the case's directory name and bucket prefix, so its uploads and submissions can be told apart. */
  slug: string;
  /** The arguments after `nbatch`; "DIR" stands for the case's directory. */
  args: string[];
  /** Merged over the world's environment; undefined removes a variable. */
  env?: Record<string, string | undefined>;
  message: RegExp;
  /** The status line that comes before the error, in a case that fails once the work is under way. */
  statusLine?: RegExp;
  code: number;
  /** Run as this user (the unreadable-files case). */
  uid?: number;
}

describeWithMoto("nbatch build: bad input", () => {
  let w: World;
  let elsewhere: BatchExecutor;
  let denied: { proxy: FaultProxy; env: Record<string, string> };
  let expired: { proxy: FaultProxy; env: Record<string, string> };
  let foreign: { proxy: FaultProxy; env: Record<string, string> };
  let scratch: string;
  let forgottenJob: string;
  const dirs: Record<string, string> = {};

  beforeAll(async () => {
    w = await startWorld();
    // Batch in another region, where nothing has been set up.
    elsewhere = await startBatchExecutor({ motoEndpoint: motoEndpoint()!, nbatchBin, region: "eu-west-3" });
    await w.executor.createQueue("off-queue", { state: "DISABLED" });

    [denied, expired, foreign] = await Promise.all([w.proxy(), w.proxy(), w.proxy()]);
    denied.proxy.add({ service: "s3", operation: /^(PutObject|CreateMultipartUpload)$/ }, { error: "AccessDenied" });
    expired.proxy.add({}, { error: "ExpiredToken" });
    foreign.proxy.add({ service: "s3", where: (q) => q.headers["x-amz-expected-bucket-owner"] !== undefined && q.headers["x-amz-expected-bucket-owner"] !== ACCOUNT }, { error: "AccessDenied" });

    // Readable by the unprivileged user: a directory with one file nobody may read, and a HOME.
    scratch = await mkdtemp(join(tmpdir(), "nbatch-bad-input-"));
    await chmod(scratch, 0o755);
    dirs.unreadable = join(scratch, "unreadable");
    await mkdir(join(dirs.unreadable, "sub"), { recursive: true, mode: 0o755 });
    await writeFile(join(dirs.unreadable, "ok.txt"), "fine\n", { mode: 0o644 });
    await writeFile(join(dirs.unreadable, "sub", "secret.txt"), "no\n", { mode: 0o000 });
    await mkdir(join(scratch, "home"), { mode: 0o755 });
    if (isRoot) await chown(join(scratch, "home"), NOBODY, NOBODY);
    await mkdir(join(scratch, "empty-home"));
    await writeFile(join(scratch, "bad-config"), "[aws-batch]\nqueue = q\nthis line is not ini\n");
    await writeFile(join(scratch, "a-file"), "not a directory\n");

    // A job Batch has forgotten, whose results have expired too.
    const done = await w.makeDir("forgotten", {});
    const first = await w.nbatch(["build", "--aws-batch", "--no-download", done, "--", "true"]);
    forgottenJob = /Submitted job (\S+)/.exec(first.stderr)![1]!;
    w.executor.forget(forgottenJob);
    const results = w.submits().at(-1).containerOverrides.environment.find((e: any) => e.name === "NBATCH_RESULTS_URL").value as string;
    const client = s3();
    await client.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: results.replace(`s3://${w.bucket}/`, "") }));
    client.destroy();
  });
  afterAll(async () => {
    await elsewhere?.stop();
    await w?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const cases = (): Case[] => {
    const submit = (extra: string[] = []) => ["build", "--aws-batch", ...extra, "DIR", "--", "true"];
    const noCredentials = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, HOME: join(scratch, "empty-home"), XDG_CONFIG_HOME: undefined, XDG_STATE_HOME: undefined };
    return [
      { slug: "missing-path", args: ["build", "--aws-batch", join(scratch, "no-such-dir"), "--", "true"], message: /no-such-dir: no such directory$/, code: 1 },
      // A name with bytes that are not UTF-8 reaches nbatch with U+FFFD in their place.
      { slug: "not-utf8-name", args: ["build", "--aws-batch", join(scratch, "nu\uFFFDroot"), "--", "true"], message: /its name is not valid UTF-8, which nbatch cannot open: rename the directory$/, code: 1 },
      { slug: "not-a-directory", args: ["build", "--aws-batch", join(scratch, "a-file"), "--", "true"], message: /a-file is not a directory/, code: 1 },
      ...(isRoot
        ? [{ slug: "unreadable", args: ["build", "--aws-batch", dirs.unreadable!, "--", "true"], env: { HOME: join(scratch, "home"), XDG_CONFIG_HOME: undefined, XDG_STATE_HOME: undefined }, message: /sub\/secret\.txt.*permission denied/i, code: 1, uid: NOBODY }]
        : []),
      { slug: "no-bucket", args: submit(), env: { NBATCH_AWS_BATCH_S3_BUCKET: undefined }, message: /no S3 bucket configured: pass --aws-batch-s3-bucket, set NBATCH_AWS_BATCH_S3_BUCKET, or add "s3-bucket = .*" under \[aws-batch\] in ~\/\.config\/nbatch\/config/, code: 1 },
      { slug: "missing-bucket", args: submit(), env: { NBATCH_AWS_BATCH_S3_BUCKET: "s3://nbatch-no-such-bucket-4d2f/jobs" }, message: /bucket nbatch-no-such-bucket-4d2f does not exist \(region us-east-1\): create it or fix the s3-bucket setting/, code: 1 },
      { slug: "foreign-bucket", args: submit(["--aws-batch-s3-bucket-owner", "111111111111"]), env: foreign.env, message: new RegExp(`${w.bucket}.*111111111111|111111111111.*${w.bucket}`), code: 1 },
      { slug: "unknown-queue", args: submit(["--aws-batch-queue", "nope-queue"]), message: /job queue "nope-queue" not found in us-east-1: check the queue setting \(--aws-batch-queue, NBATCH_AWS_BATCH_QUEUE or \[aws-batch\] queue\)/, code: 1 },
      { slug: "unknown-job", args: submit(["--aws-batch-job", "nope-job"]), message: /job definition "nope-job" not found \(no ACTIVE revision\) in us-east-1: check the job setting \(--aws-batch-job, NBATCH_AWS_BATCH_JOB or \[aws-batch\] job\)/, code: 1 },
      { slug: "disabled-queue", args: submit(["--aws-batch-queue", "off-queue"]), message: /job queue "off-queue" is DISABLED: enable it \(aws batch update-job-queue --job-queue off-queue --state ENABLED\) or use another queue/, code: 1 },
      { slug: "no-credentials", args: submit(), env: noCredentials, message: /no AWS credentials found/, code: 1 },
      { slug: "expired-credentials", args: submit(), env: expired.env, message: /AWS credentials have expired/, code: 1 },
      { slug: "access-denied", args: submit(), env: denied.env, message: /access denied: s3:PutObject on s3:\/\/\S+/, statusLine: /^Uploading 1 file, 13 B of .*access-denied to s3:\/\//, code: 1 },
      { slug: "wrong-region", args: submit(["--aws-region", "eu-west-3"]), env: { AWS_ENDPOINT_URL_BATCH: elsewhere.endpoint }, message: /job queue "nbatch-job-queue" not found in eu-west-3/, code: 1 },
      { slug: "bad-memory", args: submit(["--aws-batch-memory", "lots"]), message: /invalid memory "lots" \(from --aws-batch-memory\): use a size such as 15GiB/, code: 2 },
      { slug: "bad-memory-env", args: submit(), env: { NBATCH_AWS_BATCH_MEMORY: "lots" }, message: /invalid memory "lots" \(from NBATCH_AWS_BATCH_MEMORY\)/, code: 1 },
      { slug: "bad-cpus", args: submit(["--aws-batch-cpus", "0"]), message: /invalid vCPU count "0"/, code: 2 },
      { slug: "bad-timeout", args: submit(["--timeout", "soon"]), message: /invalid --timeout "soon"/, code: 2 },
      { slug: "short-timeout", args: submit(["--timeout", "30s"]), message: /invalid --timeout "30s": use at least 1m, Batch's minimum/, code: 2 },
      { slug: "endless-timeout", args: submit(["--timeout", "99999999d"]), message: /invalid --timeout "99999999d": use at most 2147483647 seconds, Batch's maximum/, code: 2 },
      { slug: "too-many-tags", args: submit(Array.from({ length: 50 }, (_, i) => ["--tag", `k${i}=v`]).flat()), message: /50 --tag keys given: Batch allows 50 tags on a job and nbatch adds nbatch:run-id, so give at most 49/, code: 2 },
      { slug: "bad-tag-value", args: submit(["--tag", "owner=ada;drop"]), message: /invalid --tag "owner=ada;drop": Batch takes only letters, digits, spaces and/, code: 2 },
      { slug: "long-tag-value", args: submit(["--tag", `note=${"é".repeat(257)}`]), message: /invalid --tag "note=é+": use KEY=VALUE \(key up to 128 characters, value up to 256\)/, code: 2 },
      { slug: "long-command", args: ["build", "--aws-batch", "DIR", "--", "sh", "-c", `echo ${"x".repeat(8000)}`], message: /the command and the job's environment take \d+ characters, more than the 7168 Batch can pass to the container/, code: 2 },
      { slug: "endless-poll", args: submit(), env: { NBATCH_POLL_INTERVAL: "30d" }, message: /invalid poll interval "30d" \(from NBATCH_POLL_INTERVAL\): use at most 1h/, code: 1 },
      { slug: "unknown-job-id", args: ["build", "--attach", "00000000-0000-0000-0000-000000000000", "DIR"], message: /job 0{8}-\S+ not found in us-east-1, nor in this machine's run history/, code: 1 },
      { slug: "forgotten-expired", args: ["build", "--attach", forgottenJob, "DIR"], message: new RegExp(`job ${forgottenJob} left no results at s3://.*expired`), statusLine: new RegExp(`^Batch no longer knows job ${forgottenJob}; using the results it left at s3://`), code: 1 },
      { slug: "malformed-config", args: submit(), env: { NBATCH_CONFIG: join(scratch, "bad-config") }, message: /bad-config line 3: expected `key = value` or `\[section\]`/, code: 1 },
      { slug: "batch-and-local", args: submit(["--local"]), message: /--aws-batch and --local conflict/, code: 2 },
      { slug: "attach-with-command", args: ["build", "--attach", forgottenJob, "DIR", "--", "make"], message: /--attach takes a directory but no command/, code: 2 },
      { slug: "cancel-without-attach", args: submit(["--cancel"]), message: /--cancel goes with --attach/, code: 2 },
      { slug: "bad-env-name", args: submit(["--env", "1BAD=x"]), message: /--env 1BAD=x: "1BAD" is not a valid variable name/, code: 2 },
      { slug: "attach-with-workdir", args: ["build", "--attach", forgottenJob, "--workdir", "sub", "DIR"], message: /--workdir applies when submitting a job, not with --attach/, code: 2 },
      { slug: "sse-not-a-choice", args: submit(["--sse", "aes"]), message: /invalid server-side encryption "aes" \(from --sse\): use AES256 \(SSE-S3\), aws:kms, or none/, code: 2 },
    ];
  };

  it("each case: one clear line, the documented exit code, no stack, nothing uploaded or submitted", async () => {
    const all = cases();
    const submittedBefore = w.submits().length + elsewhere.requests.filter((q) => q.operation === "SubmitJob").length;
    for (const c of all) if (!c.uid) dirs[c.slug] ??= await w.makeDir(c.slug, { "input.txt": c.slug });
    const run = async (c: Case): Promise<[Case, CliResult]> => {
      const env: Record<string, string | undefined> = { ...w.env, NBATCH_AWS_BATCH_S3_BUCKET: `s3://${w.bucket}/${c.slug}`, ...c.env };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      const args = c.args.map((a) => (a === "DIR" ? dirs[c.slug]! : a));
      return [c, c.uid === undefined ? await runCli(args, { env: env as Record<string, string> }) : await runAs(c.uid, args, env as Record<string, string>)];
    };
    const results = await inBatches(all, 4, run);
    if (!isRoot) console.log("bad input: the unreadable-files case needs root (to run nbatch as another user); skipped");

    for (const [c, r] of results) {
      const what = `${c.slug}: nbatch ${c.args.join(" ")}\n${r.stderr}`;
      // The error is all there is: no stack, no warning, no other line, nothing on stdout.
      const lines = r.stderr.trimEnd().split("\n");
      expect.soft(lines, what).toEqual([...(c.statusLine ? [expect.stringMatching(c.statusLine)] : []), expect.stringMatching(/^nbatch: error: /)]);
      expect.soft(lines.at(-1), what).toMatch(c.message);
      expect.soft(r.stderr, what).not.toMatch(/warn/i);
      expect.soft(r.stdout, what).toBe("");
      expect.soft(r.code, what).toBe(c.code);
      expect.soft(await listKeys(w.bucket, `${c.slug}/`), what).toEqual([]);
    }
    // Some cases name no directory of their own (a missing path, a file), so no job name tells them apart: none may submit at all.
    const submitted = w.submits().concat(elsewhere.requests.filter((q) => q.operation === "SubmitJob").map((q) => q.body));
    expect(submitted.slice(submittedBefore).map((s) => s.jobName)).toEqual([]);
  });

  it("the bucket owner goes on every S3 call, the CLI's and the agent's", async () => {
    const { proxy, env } = foreign;
    const dir = await w.makeDir("owner-ok", { "in.txt": "in" });
    const before = proxy.requests.length;
    // The agent's S3 calls go through the proxy too.
    const agent = `env AWS_ENDPOINT_URL=${proxy.endpoint} nbatch agent`;
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-s3-bucket-owner", ACCOUNT, "--agent-command", agent, "--env", "X=1", dir, "--", "sh", "-c", "cat in.txt > out.txt"], { env });
    expect(r.code, r.stderr).toBe(0);
    const calls = proxy.requests.slice(before).filter((q) => q.service === "s3");
    const ops = calls.map((q) => q.operation);
    expect(ops).toEqual(expect.arrayContaining(["HeadBucket", "HeadObject", "PutObject", "GetObject", "DeleteObject"]));
    // GetObject of the inputs and the env object are the agent's; of the results, the CLI's.
    expect(calls.filter((q) => q.operation === "GetObject").map((q) => q.key)).toEqual(
      expect.arrayContaining([expect.stringMatching(/inputs\//), expect.stringMatching(/env\.json$/), expect.stringMatching(/results\.zip$/)]),
    );
    expect(calls.filter((q) => q.headers["x-amz-expected-bucket-owner"] !== ACCOUNT).map((q) => `${q.operation} ${q.key ?? ""}`)).toEqual([]);
  });
});

/** Runs nbatch as another user (root only), for files that user cannot read. */
function runAs(uid: number, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nbatchBin, ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      uid,
      gid: uid,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", reject);
    child.once("close", (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr })));
  });
}

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

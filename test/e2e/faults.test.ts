import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBucket, listKeys, s3, uniqueBucketName } from "../support/aws.js";
import { spawnCli, type CliResult } from "../support/cli.js";
import type { FaultProxy, Rule } from "../support/fault-proxy.js";
import { describeWithMoto } from "../support/moto.js";
import { scenario } from "../support/scenario.js";
import { until } from "../support/until.js";
import { startWorld, type World } from "../support/world.js";

const LOG_LINE = /^\[batch\] \[[^\]]+\] (.*)$/;
/** The job's log lines that start with prefix, as nbatch printed them. */
const logLines = (stdout: string, prefix: string) =>
  stdout.split("\n").flatMap((l) => LOG_LINE.exec(l)?.[1] ?? []).filter((l) => l.startsWith(prefix));
const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern.source, pattern.flags.replace("g", "") + "g"))?.length ?? 0;
// Part size is 8 MiB (src/aws/s3.ts): this makes three parts.
const MULTIPART_BYTES = 20 * 1024 * 1024;

interface Outcome {
  r: CliResult;
  proxy?: FaultProxy;
  rules: Rule[];
  dir: string;
  /** What the scenario saw on the way. */
  seen?: Record<string, unknown>;
}

/** The incomplete multipart uploads under a prefix of a bucket, by key. */
async function incompleteUploads(bucket: string, prefix: string): Promise<string[]> {
  const client = s3();
  try {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return (page.Uploads ?? []).map((u) => u.Key!);
  } finally {
    client.destroy();
  }
}

const POLL_SECONDS = 0.1;
const CAPACITY_HINT = /RUNNABLE.*(capacity|no room)/i;

describeWithMoto("nbatch build survives faults", () => {
  let w: World;
  let stuck: World;
  const outcomes: Record<string, Promise<Outcome>> = {};
  let abandonedBucket: string;

  beforeAll(async () => {
    // The second world's queue has no capacity: its jobs stay RUNNABLE unless cancelled.
    [w, stuck] = await Promise.all([startWorld(), startWorld({ runnableDelayMs: 120_000 })]);
    abandonedBucket = uniqueBucketName();
    await createBucket(abandonedBucket);

    outcomes.partDropped = scenario(async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir("multipart-drop", {});
      await writeFile(join(dir, "blob.bin"), randomBytes(MULTIPART_BYTES));
      const rules = [proxy.add({ service: "s3", operation: "UploadPart", query: { partNumber: "2" } }, "drop", { times: 1 })];
      const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "sha256sum blob.bin > sum.txt"], { env });
      return { r, proxy, rules, dir };
    });

    outcomes.abandoned = scenario(async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir("multipart-abandoned", {});
      await writeFile(join(dir, "blob.bin"), randomBytes(MULTIPART_BYTES));
      // Parts 1 and 3 get stored; part 2 never does, so the SDK gives up.
      const rules = [proxy.add({ service: "s3", operation: "UploadPart", query: { partNumber: "2" } }, "drop")];
      const r = await w.nbatch(["build", "--aws-batch", dir, "--", "true"], { env: { ...env, NBATCH_AWS_BATCH_S3_BUCKET: `s3://${abandonedBucket}/jobs` } });
      return { r, proxy, rules, dir };
    });

    outcomes.killedMidUpload = scenario(async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir("killed-upload", {});
      await writeFile(join(dir, "blob.bin"), randomBytes(MULTIPART_BYTES));
      // A cache of its own: the other scenarios' runs, at the same time, would otherwise find the note and abort the upload first.
      const runEnv = { ...env, NBATCH_AWS_BATCH_S3_BUCKET: `s3://${w.bucket}/killed`, XDG_CACHE_HOME: await w.makeDir("killed-cache", {}) };
      const args = ["build", "--aws-batch", dir, "--", "true"];
      // Part 1 lands, part 2 hangs: the upload is under way when the CLI is killed outright.
      const stall = proxy.add({ service: "s3", operation: "UploadPart", query: { partNumber: "2" } }, "stall");
      const killed = spawnCli(args, { env: runEnv });
      await until("part 2 under way", () => stall.hits > 0, 40_000);
      killed.kill("SIGKILL");
      await killed.result;
      const left = await incompleteUploads(w.bucket, "killed/");
      stall.remove();
      const r = await w.nbatch(args, { env: runEnv });
      return { r, proxy, rules: [stall], dir, seen: { left, after: await incompleteUploads(w.bucket, "killed/") } };
    });

    outcomes.throttled = scenario(async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir("throttled", {});
      // Six in a row outlast the SDK's own five attempts, so nbatch's own backoff is needed too.
      const rules = [
        proxy.add({ service: "batch", operation: "DescribeJobs" }, { error: "Throttling" }, { skip: 2, times: 6 }),
        // Mid-stream, once lines have been read: a fetch retried from the wrong place would repeat or skip lines.
        proxy.add({ service: "logs", operation: "GetLogEvents", where: (q) => q.body?.nextToken !== undefined }, { error: "Throttling" }, { skip: 2, times: 6 }),
        proxy.add({ service: "s3", operation: "ListObjectsV2" }, { error: "Throttling" }, { times: 3 }),
        proxy.add({ service: "s3", operation: "GetObject" }, { error: "Throttling" }, { times: 3 }),
      ];
      // The second half of the log is written only once the reads of the first have been throttled.
      const half = w.gate();
      const job = `for i in $(seq 1 100); do echo "line $i"; done; ${half.wait}; for i in $(seq 101 200); do echo "line $i"; done; echo made > made.txt`;
      const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", job], { env });
      await until("six throttled log reads", () => rules[1]!.hits === 6, 40_000);
      await half.open();
      return { r: await p.result, proxy, rules, dir };
    });

    outcomes.networkLoss = scenario(async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir("network-loss", {});
      // The job writes half its log, waits out the first part of the outage, writes the rest and ends during it.
      const outage = w.gate();
      const job = `for i in $(seq 1 30); do echo tick $i; done; ${outage.wait}; for i in $(seq 31 60); do echo tick $i; done`;
      const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", job], { env });
      await p.waitForOutput("] tick 30", 40_000);
      const rules = [proxy.add({ service: "batch" }, "drop"), proxy.add({ service: "logs" }, "drop")];
      // Outlasting the SDK's own retries: nbatch itself has noticed.
      await p.waitForOutput(/lost contact/i, 40_000);
      await outage.open();
      const status = () => w.executor.jobs().find((j) => j.jobName!.startsWith("nbatch-network-loss-"))?.status;
      await until("the job to end", () => status() === "SUCCEEDED", 40_000);
      rules.forEach((rule) => rule.remove());
      return { r: await p.result, proxy, rules, dir };
    });

    outcomes.noLogStream = scenario(async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir("no-log-stream", {});
      const rules = [proxy.add({ service: "logs", operation: "GetLogEvents" }, { error: "NotFound" })];
      const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "echo unseen; echo out > out.txt; exit 3"], { env });
      return { r, proxy, rules, dir };
    });

    outcomes.stuck = scenario(async () => {
      const dir = await stuck.makeDir("stuck", {});
      const p = spawnCli(["build", "--aws-batch", "--aws-batch-cpus", "64", "--aws-batch-memory", "500GiB", dir, "--", "true"], {
        env: { ...stuck.env, NBATCH_POLL_INTERVAL: String(POLL_SECONDS) },
      });
      const polls = () => stuck.executor.requests.filter((q) => q.operation === "DescribeJobs").length;
      try {
        await p.waitForOutput(CAPACITY_HINT, 30_000);
        // Chances to say it again: a hint repeated on every poll would show by then.
        const hinted = polls();
        await until("ten more polls", () => polls() >= hinted + 10);
      } finally {
        p.kill("SIGINT");
      }
      return { r: await p.result, rules: [], dir };
    });
    // Settled here, so that the waiting counts against this hook's timeout rather than a test's.
    await Promise.allSettled(Object.values(outcomes));
  }, 90_000);
  afterAll(() => Promise.all([w?.stop(), stuck?.stop()]));

  it("retries a multipart upload part whose connection was dropped", async () => {
    const { r, proxy, rules, dir } = await outcomes.partDropped!;
    if (!proxy) throw new Error("no proxy");
    expect(r.code, r.stderr).toBe(0);
    expect(rules[0]!.hits).toBe(1);
    const part2 = proxy.requests.filter((q) => q.operation === "UploadPart" && q.query.get("partNumber") === "2");
    expect(part2.map((q) => q.fault)).toEqual(["drop", undefined]);
    expect(proxy.requests.filter((q) => q.operation === "CompleteMultipartUpload")).toHaveLength(1);
    // The job saw exactly the bytes that were uploaded.
    const blob = await readFile(join(dir, "blob.bin"));
    expect(await readFile(join(dir, "sum.txt"), "utf8")).toContain(createHash("sha256").update(blob).digest("hex"));
  });

  it("aborts an abandoned multipart upload, leaving no parts behind and submitting nothing", async () => {
    const { r, proxy } = await outcomes.abandoned!;
    if (!proxy) throw new Error("no proxy");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nbatch: error: .*/m);
    expect(r.stderr).not.toContain("    at ");
    const ops = proxy.requests.map((q) => q.operation);
    expect(ops).toContain("UploadPart");
    expect(ops).toContain("AbortMultipartUpload");
    expect(ops).not.toContain("SubmitJob");
    const client = s3();
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: abandonedBucket }));
    client.destroy();
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await listKeys(abandonedBucket)).toEqual([]);
  });

  it("aborts the incomplete upload of its own inputs that a run killed outright left behind", async () => {
    const { r, proxy, seen } = await outcomes.killedMidUpload!;
    expect(r.code, r.stderr).toBe(0);
    expect(seen!.left).toEqual([expect.stringMatching(/^killed\/inputs\/packs\/[0-9a-f-]+\.zip$/)]);
    expect(r.stderr).toMatch(/^Aborted 1 incomplete upload of s3:\/\/\S+\/killed\/inputs\/packs\/[0-9a-f-]+\.zip left by an earlier run$/m);
    expect(seen!.after).toEqual([]);
    expect(proxy!.requests.filter((q) => q.operation === "ListMultipartUploads").map((q) => q.query.get("prefix"))).toEqual(seen!.left);
  });

  it("backs off when DescribeJobs, GetLogEvents and S3 are throttled: every log line once, in order", async () => {
    const { r, rules, dir } = await outcomes.throttled!;
    expect(r.code, r.stderr).toBe(0);
    expect(rules.map((rule) => rule.hits)).toEqual([6, 6, 3, 3]);
    expect(logLines(r.stdout, "line ")).toEqual(numbered("line", 200));
    expect(await readFile(join(dir, "made.txt"), "utf8")).toBe("made\n");
    expect(r.stderr).not.toContain("    at ");
  });

  it("keeps watching through a network loss, says so once, and misses no line", async () => {
    const { r, rules } = await outcomes.networkLoss!;
    expect(r.code, r.stderr).toBe(0);
    expect(rules[0]!.hits).toBeGreaterThan(0);
    expect(rules[1]!.hits).toBeGreaterThan(0);
    expect(count(r.stderr, /lost contact/i)).toBe(1);
    expect(r.stderr).toContain("Back in contact with AWS");
    expect(logLines(r.stdout, "tick ")).toEqual(numbered("tick", 60));
    expect(r.stderr).toMatch(/Job SUCCEEDED/);
  });

  it("finishes with the job's exit code when its log stream never appears, and says so", async () => {
    const { r, rules, dir } = await outcomes.noLogStream!;
    expect(r.code).toBe(3);
    expect(rules[0]!.hits).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/log stream \S+ never appeared in log group \/aws\/batch\/job/);
    expect(count(r.stderr, /never appeared/)).toBe(1);
    expect(r.stdout).not.toContain("unseen");
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("out\n");
  });

  // How long it waits before the hint is timed with a fake clock in test/unit/aws-batch-watch.test.ts.
  it("shows a hint about the queue's capacity for the vCPUs and memory asked for, once, while the job is RUNNABLE", async () => {
    const { r } = await outcomes.stuck!;
    const lines = r.stderr.split("\n");
    const runnable = lines.findIndex((l) => l.startsWith("Job status: RUNNABLE"));
    const hint = lines.findIndex((l) => CAPACITY_HINT.test(l));
    expect(runnable).toBeGreaterThanOrEqual(0);
    expect(hint).toBeGreaterThan(runnable);
    const line = lines[hint]!;
    expect(line).toContain("64 vCPUs");
    expect(line).toContain("512000 MiB");
    expect(count(r.stderr, CAPACITY_HINT)).toBe(1);
    expect(r.code).toBe(130);
  });
});

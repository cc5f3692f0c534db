// Fan-out through the real `nbatch build --aws-batch --array N` against the
// fake Batch (bench/lib/fake-aws.mjs) and moto's S3: each child "runs" for
// a set time once its turn comes, and its results archive (one small file,
// as the agent would make it) is in S3 before the fake calls it SUCCEEDED.
// Measured: when the first and the last results were applied against when
// the children ended, the Batch and Logs calls per minute and in the
// busiest second, and the CLI's peak RSS.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { run } from "./proc.mjs";

const RUN_MS = 8000;

async function resultsZip(ctx, runId, index) {
  const { packZip } = await import(join(ctx.repo, "dist/archive/pack.js"));
  const { PROTOCOL_VERSION, RESULTS_ENTRY } = await import(join(ctx.repo, "dist/protocol.js"));
  const root = join(ctx.work, "fanout-job");
  const path = `out/${index}.txt`;
  await mkdir(join(root, "out"), { recursive: true });
  await writeFile(join(root, path), `task ${index}\n`);
  const entry = { path, type: "file", size: `task ${index}\n`.length, mtimeMs: 1_720_000_000_000, mode: 0o644 };
  const results = { protocol: PROTOCOL_VERSION, runId, index, exitCode: 0, signal: null, deleted: [], files: [entry], timings: { started: 0, finished: 0 } };
  const chunks = [];
  for await (const c of Readable.from(packZip({ root, entries: [entry], extra: [{ name: RESULTS_ENTRY, data: JSON.stringify(results) }] }))) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Children start spread over spreadMs, run RUN_MS, and end once their results are in S3. */
function fanoutScenario(ctx, size, spreadMs) {
  const ended = new Map();
  const uploaded = new Set();
  const startAt = (i) => Math.floor((i / size) * spreadMs);
  return {
    ended,
    status: () => "SUCCEEDED",
    onSubmit(job) {
      const env = Object.fromEntries(job.body.containerOverrides.environment.map((e) => [e.name, e.value]));
      const url = env.NBATCH_RESULTS_URL.replace(/^s3:\/\/[^/]+\//, "");
      // Uploaded in the order children end, a few at a time, as the agents would.
      void (async () => {
        for (let i = 0; i < size; i += 8) {
          await Promise.all(
            Array.from({ length: Math.min(8, size - i) }, async (_, k) => {
              const body = await resultsZip(ctx, env.NBATCH_RUN_ID, i + k);
              await ctx.s3.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: url.replace("{index}", String(i + k)), Body: body }));
              uploaded.add(i + k);
            }),
          );
        }
      })();
    },
    childStatus(job, i, ms) {
      if (ms < startAt(i)) return "RUNNABLE";
      if (ms < startAt(i) + RUN_MS || !uploaded.has(i)) return "RUNNING";
      if (!ended.has(i)) ended.set(i, Date.now());
      return "SUCCEEDED";
    },
  };
}

async function fanout(ctx, size, spreadMs) {
  const scenario = fanoutScenario(ctx, size, spreadMs);
  ctx.fake.setScenario(scenario);
  const dir = join(ctx.work, `fanout-${size}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "README"), "a directory for the fan-out runs\n");
  const applied = [];
  const callsBefore = ctx.fake.calls.length;
  const r = await run(process.execPath, [ctx.bin, "build", "--aws-batch", "--json", "--array", String(size), dir, "--", "true"], {
    env: ctx.env({ prefix: "fanout" }),
    rss: true,
    timeoutMs: 600_000,
    onStdoutLine: (line) => {
      if (line.includes('"task-result"')) applied.push(Date.now());
    },
  });
  if (r.code !== 0) throw new Error(`fan-out of ${size} exited ${r.code}: ${r.stderr.slice(-1500)}`);
  const job = [...ctx.fake.jobs.values()].at(-1);
  const calls = ctx.fake.calls.slice(callsBefore).filter((c) => c.at >= job.submittedAt);
  const lastEnded = Math.max(...scenario.ended.values());
  const minutes = (Math.max(...applied) - job.submittedAt) / 60_000;
  const perMinute = (op) => calls.filter((c) => c.op === op).length / minutes;
  const batch = calls.filter((c) => c.op === "describejobs" || c.op === "listjobs");
  const perSecond = new Map();
  for (const c of batch) perSecond.set(Math.floor(c.at / 1000), (perSecond.get(Math.floor(c.at / 1000)) ?? 0) + 1);
  return {
    children: size,
    applied: applied.length,
    childRunMs: RUN_MS,
    lastChildEndedS: (lastEnded - job.submittedAt) / 1000,
    firstAppliedS: (Math.min(...applied) - job.submittedAt) / 1000,
    lastAppliedS: (Math.max(...applied) - job.submittedAt) / 1000,
    describeJobsPerMinute: perMinute("describejobs"),
    listJobsPerMinute: perMinute("listjobs"),
    getLogEventsPerMinute: perMinute("getlogevents"),
    busiestSecondBatchCalls: Math.max(...perSecond.values()),
    peakRssKB: r.peakRssKB,
  };
}

export async function measureFanout(ctx, { quick }) {
  try {
    ctx.log("  100 children");
    const hundred = await fanout(ctx, quick ? 20 : 100, 4000);
    ctx.log(`  ${quick ? "200" : "1,000"} children`);
    const thousand = await fanout(ctx, quick ? 200 : 1000, 20_000);
    return { hundred, thousand };
  } finally {
    ctx.fake.setScenario(undefined);
  }
}

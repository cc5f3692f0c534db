// Fan-out through the real `nbatch build --aws-batch --array N` against the
// fake Batch (bench/lib/fake-aws.mjs) and moto's S3: each child "runs" for
// a set time once its turn comes, and its results archive (one small file,
// as the agent would make it) is in S3 before the fake calls it SUCCEEDED.
// The large run has children that fail (told with their last lines) and
// two followed with --follow-child: the log calls they cost are held to
// the process's budget. Measured: when the first and the last results were
// applied against when the children ended, the Batch and Logs calls per
// minute and in the busiest second, and the CLI's peak RSS.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { run } from "./proc.mjs";

const RUN_MS = 8000;
/** In a run with failures, every FAIL_EVERY-th child fails, and these are followed. */
const FAIL_EVERY = 50;
const FOLLOWED = [0, 1];

async function resultsZip(ctx, runId, index, exitCode) {
  const { packZip } = await import(join(ctx.repo, "dist/archive/pack.js"));
  const { PROTOCOL_VERSION, RESULTS_ENTRY } = await import(join(ctx.repo, "dist/protocol.js"));
  const root = join(ctx.work, "fanout-job");
  const path = `out/${index}.txt`;
  await mkdir(join(root, "out"), { recursive: true });
  await writeFile(join(root, path), `task ${index}\n`);
  const entry = { path, type: "file", size: `task ${index}\n`.length, mtimeMs: 1_720_000_000_000, mode: 0o644 };
  const results = { protocol: PROTOCOL_VERSION, runId, index, exitCode, signal: null, deleted: [], files: [entry], timings: { started: 0, finished: 0 } };
  const chunks = [];
  for await (const c of Readable.from(packZip({ root, entries: [entry], extra: [{ name: RESULTS_ENTRY, data: JSON.stringify(results) }] }))) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Children start spread over spreadMs, run runMs writing a line a second, and end once their results are in S3. */
function fanoutScenario(ctx, size, spreadMs, failures, runMs) {
  const ended = new Map();
  const uploaded = new Set();
  const startAt = (i) => Math.floor((i / size) * spreadMs);
  const fails = (i) => failures && i % FAIL_EVERY === FAIL_EVERY - 1;
  return {
    ended,
    fails,
    logs: {
      line(n, ms, _job, i) {
        const at = startAt(i ?? 0) + n * 1000;
        return n < runMs / 1000 && at <= ms ? { message: `task ${i} line ${n}`, availableAt: at } : undefined;
      },
    },
    status: () => "SUCCEEDED",
    onSubmit(job) {
      const env = Object.fromEntries(job.body.containerOverrides.environment.map((e) => [e.name, e.value]));
      const url = env.NBATCH_RESULTS_URL.replace(/^s3:\/\/[^/]+\//, "");
      // Uploaded in the order children end, a few at a time, as the agents would.
      void (async () => {
        for (let i = 0; i < size; i += 8) {
          await Promise.all(
            Array.from({ length: Math.min(8, size - i) }, async (_, k) => {
              const body = await resultsZip(ctx, env.NBATCH_RUN_ID, i + k, fails(i + k) ? 1 : 0);
              await ctx.s3.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: url.replace("{index}", String(i + k)), Body: body }));
              uploaded.add(i + k);
            }),
          );
        }
      })();
    },
    childStatus(job, i, ms) {
      if (ms < startAt(i)) return "RUNNABLE";
      if (ms < startAt(i) + runMs || !uploaded.has(i)) return "RUNNING";
      if (!ended.has(i)) ended.set(i, Date.now());
      return fails(i) ? "FAILED" : "SUCCEEDED";
    },
  };
}

async function fanout(ctx, size, spreadMs, failures = false, runMs = RUN_MS, pollInterval = undefined) {
  const scenario = fanoutScenario(ctx, size, spreadMs, failures, runMs);
  ctx.fake.setScenario(scenario);
  const dir = join(ctx.work, `fanout-${size}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "README"), "a directory for the fan-out runs\n");
  const applied = [];
  const toldEnded = [];
  const failedTold = new Set();
  const lastLinesOf = new Set();
  let followedLines = 0;
  const callsBefore = ctx.fake.calls.length;
  const follow = failures ? FOLLOWED.flatMap((i) => ["--follow-child", String(i)]) : [];
  const r = await run(process.execPath, [ctx.bin, "build", "--aws-batch", "--json", "--array", String(size), ...follow, dir, "--", "true"], {
    env: ctx.env({ prefix: "fanout", pollInterval }),
    rss: true,
    timeoutMs: 600_000,
    onStdoutLine: (line) => {
      if (line.includes('"task-result"')) return void applied.push(Date.now());
      if (!line.includes('"type":"task"') && !line.includes('"type":"log"')) return;
      const e = JSON.parse(line);
      if (e.type === "task" && (e.status === "SUCCEEDED" || e.status === "FAILED")) toldEnded.push(Date.now());
      if (e.type === "task" && e.status === "FAILED") failedTold.add(e.index);
      if (e.type === "log" && failures && FOLLOWED.includes(e.index)) followedLines++;
      else if (e.type === "log") lastLinesOf.add(e.index);
    },
  });
  const expected = failures ? 1 : 0;
  if (r.code !== expected) throw new Error(`fan-out of ${size} exited ${r.code}, not ${expected}: ${r.stderr.slice(-1500)}`);
  const job = [...ctx.fake.jobs.values()].at(-1);
  const calls = ctx.fake.calls.slice(callsBefore).filter((c) => c.at >= job.submittedAt);
  const lastEnded = Math.max(...scenario.ended.values());
  const minutes = (Math.max(...applied) - job.submittedAt) / 60_000;
  const perMinute = (op) => calls.filter((c) => c.op === op).length / minutes;
  const busiest = (ops) => {
    const perSecond = new Map();
    for (const c of calls.filter((c) => ops.includes(c.op))) perSecond.set(Math.floor(c.at / 1000), (perSecond.get(Math.floor(c.at / 1000)) ?? 0) + 1);
    return Math.max(0, ...perSecond.values());
  };
  const failing = Array.from({ length: size }, (_, i) => i).filter(scenario.fails);
  return {
    children: size,
    applied: applied.length,
    childRunMs: runMs,
    lastChildEndedS: (lastEnded - job.submittedAt) / 1000,
    firstAppliedS: (Math.min(...applied) - job.submittedAt) / 1000,
    lastAppliedS: (Math.max(...applied) - job.submittedAt) / 1000,
    lastSeenEndedS: (Math.max(...toldEnded) - job.submittedAt) / 1000,
    describeJobsPerMinute: perMinute("describejobs"),
    listJobsPerMinute: perMinute("listjobs"),
    getLogEventsPerMinute: perMinute("getlogevents"),
    busiestSecondBatchCalls: busiest(["describejobs", "listjobs", "terminatejob"]),
    busiestSecondLogCalls: busiest(["getlogevents"]),
    getLogEvents: calls.filter((c) => c.op === "getlogevents").length,
    failing: failing.length,
    failedTold: failing.filter((i) => failedTold.has(i)).length,
    failedWithLastLines: failing.filter((i) => lastLinesOf.has(i)).length,
    followed: failures ? FOLLOWED.length : 0,
    followedLines,
    peakRssKB: r.peakRssKB,
  };
}

export async function measureFanout(ctx, { quick }) {
  try {
    // Quick mode shows only that both runs work: fewer children, ending sooner, polled
    // often (the call rates it then gives are not the default interval's, and not judged).
    ctx.log(`  ${quick ? "10" : "100"} children`);
    const hundred = await fanout(ctx, quick ? 10 : 100, quick ? 500 : 4000, false, quick ? 1000 : RUN_MS, quick ? 0.5 : undefined);
    ctx.log(`  ${quick ? "50" : "1,000"} children, ${100 / FAIL_EVERY}% failing, ${FOLLOWED.length} followed`);
    const thousand = await fanout(ctx, quick ? 50 : 1000, quick ? 1000 : 20_000, true, quick ? 1000 : RUN_MS, quick ? 0.5 : undefined);
    return { hundred, thousand };
  } finally {
    ctx.fake.setScenario(undefined);
  }
}

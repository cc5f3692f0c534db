// Log tailing against the fake CloudWatch Logs, through the real `nbatch build`:
// added latency and API calls per minute at the default poll interval, and
// memory while a million lines stream past.
import { readFile } from "node:fs/promises";
import { median, run } from "./proc.mjs";

const LINE = /bench line (\d+)\b/;

/**
 * A job that runs `durationMs`: one line a second for the first half, then
 * a few lines after long silences, when the tailer has backed off.
 */
function tailScenario(durationMs) {
  const half = Math.floor(durationMs / 2000);
  const times = Array.from({ length: half }, (_, i) => (i + 1) * 1000);
  for (let t = durationMs / 2 + 7300; t < durationMs - 1000; t += 12_700) times.push(t);
  return {
    times,
    status: (_job, ms) => (ms < durationMs ? "RUNNING" : "SUCCEEDED"),
    logs: {
      line: (i, ms) => (i < times.length && times[i] <= ms ? { message: `bench line ${i} written at +${times[i]} ms`, availableAt: times[i] } : undefined),
    },
  };
}

function millionScenario(total) {
  const filler = "lorem ipsum dolor sit amet consectetur adipiscing";
  return {
    status: (job) => ((job.served ?? 0) >= total ? "SUCCEEDED" : "RUNNING"),
    logs: {
      line(i, _ms, job) {
        if (i >= total) return undefined;
        job.served = Math.max(job.served ?? 0, i + 1);
        return { message: `bench line ${i} ${filler}`, availableAt: 0 };
      },
    },
  };
}

async function tailing(ctx, durationMs) {
  const scenario = tailScenario(durationMs);
  ctx.fake.setScenario(scenario);
  const received = new Map();
  const callsBefore = ctx.fake.calls.length;
  const r = await run(process.execPath, [ctx.bin, "build", "--aws-batch", ctx.dirs.tiny, "--", "true"], {
    env: ctx.env({ prefix: "logs" }),
    timeoutMs: durationMs + 120_000,
    onStdoutLine: (line) => {
      const m = LINE.exec(line);
      if (m && !received.has(Number(m[1]))) received.set(Number(m[1]), Date.now());
    },
  });
  const job = [...ctx.fake.jobs.values()].at(-1);
  const calls = ctx.fake.calls.slice(callsBefore).filter((c) => c.at >= job.submittedAt && c.at <= job.submittedAt + durationMs);
  const perMinute = (op) => (calls.filter((c) => c.op === op).length * 60_000) / durationMs;
  const latencies = scenario.times.map((t, i) => (received.has(i) ? received.get(i) - (job.submittedAt + t) : undefined));
  const missing = latencies.filter((l) => l === undefined).length;
  const steady = latencies.slice(0, Math.floor(durationMs / 2000));
  const sparse = latencies.slice(steady.length);
  return {
    exitCode: r.code,
    durationMs,
    lines: scenario.times.length,
    missing,
    describeJobsPerMinute: perMinute("describejobs"),
    getLogEventsPerMinute: perMinute("getlogevents"),
    latencyMs: {
      steadyMedian: median(steady),
      steadyMax: Math.max(...steady.filter((x) => x !== undefined)),
      afterSilenceMax: sparse.length ? Math.max(...sparse.filter((x) => x !== undefined)) : undefined,
      max: Math.max(...latencies.filter((x) => x !== undefined)),
    },
  };
}

async function million(ctx, total) {
  ctx.fake.setScenario(millionScenario(total));
  let count = 0;
  const samples = [];
  let pid;
  const sample = async () => {
    const s = await readFile(`/proc/${pid}/status`, "utf8").catch(() => undefined);
    if (!s) return;
    samples.push({ lines: count, rssKB: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]), hwmKB: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1]) });
  };
  let timer;
  const started = performance.now();
  // A fast poll interval only so a million lines take seconds, not minutes; the tail's page size is AWS's own.
  const r = await run(process.execPath, [ctx.bin, "build", "--aws-batch", ctx.dirs.tiny, "--", "true"], {
    env: ctx.env({ prefix: "logs", pollInterval: 0.2 }),
    keepOutput: false,
    timeoutMs: 600_000,
    onSpawn: (child) => {
      pid = child.pid;
      timer = setInterval(sample, 250);
    },
    onStdoutLine: (line) => {
      if (line.includes("bench line ")) count++;
    },
  });
  clearInterval(timer);
  const at = (fraction) => samples.find((s) => s.lines >= total * fraction);
  const last = samples.at(-1);
  return {
    exitCode: r.code,
    lines: count,
    seconds: (performance.now() - started) / 1000,
    rssAt10PercentKB: at(0.1)?.rssKB,
    rssAt50PercentKB: at(0.5)?.rssKB,
    rssAt90PercentKB: at(0.9)?.rssKB,
    rssAtEndKB: last?.rssKB,
    peakKB: last?.hwmKB,
    samples: samples.filter((_, i) => i % 4 === 0),
  };
}

export async function measureLogs(ctx, { quick }) {
  try {
    ctx.log("  tailing a running job at the default poll interval");
    const tail = await tailing(ctx, quick ? 3_000 : 60_000);
    ctx.log(`  ${quick ? "10,000" : "1,000,000"} log lines`);
    const lines = await million(ctx, quick ? 10_000 : 1_000_000);
    return { tail, lines };
  } finally {
    ctx.fake.setScenario(undefined);
  }
}

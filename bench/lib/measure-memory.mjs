// Peak RSS of `nbatch build` on both runners, for the sizes users report:
// a huge file that does not shrink, a huge one that does, very many small
// files, a job that writes very many results, and the reference directory.
// --aws-batch goes to the sink S3 (sink-s3.mjs), so a 5 GiB upload costs
// no store's memory; --local keeps its archives in the OS temp directory.
import { mkdir, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { hugeFileDir, manyFilesDir } from "./kinds.mjs";
import { run } from "./proc.mjs";

const GiB = 1024 ** 3;

function sizes(quick) {
  return quick ? { huge: 64 * 1024 * 1024, files: 2_000, results: 2_000 } : { huge: 5 * GiB, files: 200_000, results: 100_000 };
}

async function freeBytes(dir) {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * One `nbatch build` on `runner`; the job writes `results.count` files when
 * asked. The local agent runs the command; the fake job packs them (in a
 * worker, not the CLI) under its run id, the one results.json must carry,
 * and succeeds once they are served.
 */
async function build(ctx, { runner, dir, sink, results }) {
  const command = results ? [process.execPath, join(ctx.benchDir, "worker", "make-files.mjs"), String(results.count)] : ["true"];
  const flag = runner === "local" ? "--local" : "--aws-batch";
  if (results && runner === "aws") {
    let packed = false;
    let failed;
    ctx.fake.setScenario({
      onSubmit(job) {
        const env = (name) => job.body.containerOverrides.environment.find((e) => e.name === name).value;
        const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(env("NBATCH_RESULTS_URL"));
        const archive = join(ctx.work, "memory-results.zip");
        ctx
          .worker("pack-results.mjs", [results.jobDir, archive, env("NBATCH_RUN_ID")])
          .then(() => stat(archive))
          .then((st) => (sink.serve(bucket, key, archive, st.size), (packed = true)))
          .catch((err) => (failed = err));
      },
      status: () => (failed ? "FAILED" : packed ? "SUCCEEDED" : "RUNNING"),
    });
  }
  try {
    // A job's 100,000 files and their directories are more entries than nbatch takes by default.
    const limit = results ? ["--max-results-entries", String(2 * results.count)] : [];
    const r = await run(process.execPath, [ctx.bin, "build", flag, ...limit, dir, "--", ...command], {
      // Polled often, so the wait for the fake job's results is not measured as time spent.
      env: ctx.env({ prefix: `memory-${Date.now()}`, s3: sink.endpoint, pollInterval: 0.5 }),
      rss: true,
      timeoutMs: 1_800_000,
    });
    if (r.code !== 0) throw new Error(`nbatch build ${flag} ${dir} exited ${r.code}: ${r.stderr.slice(-1500)}`);
    return { rssKB: r.peakRssKB, ms: r.wallMs };
  } finally {
    ctx.fake.setScenario(undefined);
  }
}

/** Both runners on a directory; a results case applies into a fresh copy of `dir` each time. */
async function bothRunners(ctx, name, dir, sink, results) {
  const out = { name };
  for (const runner of ["local", "aws"]) {
    ctx.log(`  ${name}, ${runner === "local" ? "--local" : "--aws-batch"}`);
    let target = dir;
    if (results) {
      target = join(ctx.work, `results-target-${runner}`);
      await rm(target, { recursive: true, force: true });
      await mkdir(target);
    }
    out[runner] = await build(ctx, { runner, dir: target, sink, results });
    if (results) await rm(target, { recursive: true, force: true });
  }
  return out;
}

export async function measureMemory(ctx, { quick, sink }) {
  const size = sizes(quick);
  // Quick leaves out the cases that only differ in size from those it keeps.
  const cases = quick ? [] : [await bothRunners(ctx, "reference directory", ctx.dirs.reference, sink)];
  // The local runner holds the source, its archive, the agent's copy and the unpacked job: four times the file.
  for (const kind of quick ? ["random"] : ["random", "text"]) {
    const label = `${size.huge >= GiB ? `${size.huge / GiB} GiB` : `${size.huge / 1024 ** 2} MiB`} ${kind === "random" ? "incompressible" : "compressible"} file`;
    if ((await freeBytes(ctx.dataRoot)) < 4.5 * size.huge) {
      ctx.log(`  skipping the ${label}: less than ${((4.5 * size.huge) / GiB).toFixed(0)} GiB free under ${ctx.dataRoot}`);
      cases.push({ name: label, skipped: "not enough free disk" });
      continue;
    }
    const dir = await hugeFileDir(ctx.dataRoot, kind, size.huge, ctx.log);
    try {
      cases.push(await bothRunners(ctx, label, dir, sink));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (!quick) {
    const many = await manyFilesDir(ctx.dataRoot, size.files, ctx.log);
    cases.push(await bothRunners(ctx, `${size.files.toLocaleString("en-US")} small files`, many, sink));
  }
  const jobDir = await manyFilesDir(ctx.dataRoot, size.results, ctx.log);
  cases.push(await bothRunners(ctx, `results of ${size.results.toLocaleString("en-US")} files`, ctx.dirs.tiny, sink, { count: size.results, jobDir }));
  return { cases };
}

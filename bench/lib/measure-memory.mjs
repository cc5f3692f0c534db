// Peak RSS of `nbatch build` on both runners, for the sizes users report:
// a huge file that does not shrink, a huge one that does, very many small
// files, a job that writes very many results, and the reference directory.
// --aws-batch goes to the sink S3 (sink-s3.mjs), so a 5 GiB upload costs
// no store's memory; --local keeps its archives in the OS temp directory.
import { mkdir, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { instantScenario } from "./fake-aws.mjs";
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

/** One `nbatch build` on `runner`; the job writes `results` files when asked (the local agent runs the command; the fake job has them ready). */
async function build(ctx, { runner, dir, sink, results }) {
  const command = results ? [process.execPath, join(ctx.benchDir, "worker", "make-files.mjs"), String(results.count)] : ["true"];
  const flag = runner === "local" ? "--local" : "--aws-batch";
  if (results && runner === "aws") {
    ctx.fake.setScenario(
      instantScenario((job) => {
        const url = job.body.containerOverrides.environment.find((e) => e.name === "NBATCH_RESULTS_URL").value;
        const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
        sink.serve(bucket, key, results.archive, results.size);
      }),
    );
  }
  try {
    const r = await run(process.execPath, [ctx.bin, "build", flag, dir, "--", ...command], {
      env: ctx.env({ prefix: `memory-${Date.now()}`, s3: sink.endpoint }),
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
  const archive = await resultsArchive(ctx, size.results);
  cases.push(await bothRunners(ctx, `results of ${size.results.toLocaleString("en-US")} files`, ctx.dirs.tiny, sink, archive));
  return { cases };
}

/** A results archive of `count` new files, as the agent makes it, cached beside the data. */
async function resultsArchive(ctx, count) {
  const archive = join(ctx.dataRoot, `results-${count}.zip`);
  const made = await stat(archive).catch(() => undefined);
  if (!made) {
    const jobDir = await manyFilesDir(ctx.dataRoot, count, ctx.log);
    await ctx.worker("pack-results.mjs", [jobDir, archive]);
  }
  return { count, archive, size: (await stat(archive)).size };
}

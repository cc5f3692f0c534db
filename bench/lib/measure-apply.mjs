// Applying results: a job changed 1% of the reference directory's files
// (one of them a 16 MiB table). The same change is applied to the reference
// directory and to one 4x larger: the cost must follow the change, not the
// directory. Each target is a hard-linked copy, so the cached data stays intact
// (nbatch replaces files by rename, never writing through the link).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { listFiles, prng } from "./data.mjs";
import { median, run } from "./proc.mjs";

function changedPaths(scale, count) {
  const files = listFiles(scale);
  const small = files.filter((f) => f.kind === "small");
  const rand = prng(99);
  const picked = new Set();
  while (picked.size < count - 1) picked.add(small[Math.floor(rand() * small.length)].path);
  return [...picked, files.find((f) => f.kind === "text").path];
}

async function applyTo(ctx, name, dir, scale, count, runs) {
  const paths = changedPaths(scale, count);
  const jobDir = join(ctx.work, `job-${name}`);
  const archive = join(ctx.work, `results-${name}.zip`);
  await mkdir(jobDir, { recursive: true });
  const made = await ctx.worker("make-results.mjs", [dir, jobDir, archive, ...paths]);
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const target = join(ctx.work, `apply-${name}`);
    await rm(target, { recursive: true, force: true });
    const cp = await run("cp", ["-al", dir, target]);
    if (cp.code !== 0) throw new Error(`cp -al failed: ${cp.stderr}`);
    samples.push(await ctx.worker("apply.mjs", [archive, target]));
    await rm(target, { recursive: true, force: true });
  }
  return {
    changedFiles: made.files,
    changedBytes: made.bytes,
    applyMs: median(samples.map((s) => s.first.ms)),
    applyReadBytes: median(samples.map((s) => s.first.readBytes)),
    reapplyMs: median(samples.map((s) => s.again.ms)),
    reapplyReadBytes: median(samples.map((s) => s.again.readBytes)),
    written: samples[0].first.written,
    identicalOnReapply: samples[0].again.identical,
    samples,
  };
}

export async function measureApply(ctx, { scale, runs }) {
  const count = Math.max(2, Math.round(listFiles(scale).length / 100));
  return {
    reference: await applyTo(ctx, "reference", ctx.dirs.reference, scale, count, runs),
    big: await applyTo(ctx, "big", ctx.dirs.big, scale * 4, count, runs),
  };
}

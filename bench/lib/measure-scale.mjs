// Cost against size: scan, fingerprint, pack+upload, the unchanged re-run
// and applying results, on the reference directory at several scales (and
// about 20 GB where the disk allows: five hard-linked copies of the 16x
// one, so it costs no more disk), as time per GB and per 10,000 files.
// Uploads go to the sink S3, which keeps no bytes (sink-s3.mjs).
import { mkdir, rm, statfs } from "node:fs/promises";
import { join } from "node:path";
import { referenceDir } from "./data.mjs";
import { nbatchBuild } from "./measure-upload.mjs";
import { median, run, settle } from "./proc.mjs";

const GB = 1e9;

/** The 16x directory five times over, as hard links. */
async function linkedCopies(ctx, source, copies) {
  const dir = join(ctx.dataRoot, `linked-${copies}x-${source.split("/").pop()}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  for (let i = 0; i < copies; i++) {
    const cp = await run("cp", ["-al", source, join(dir, `copy-${i}`)]);
    if (cp.code !== 0) throw new Error(`cp -al failed: ${cp.stderr}`);
  }
  await settle();
  return dir;
}

/** Every tenth file of dir (large ones among them), as a job that changed them would send them back. */
async function tenthChanged(ctx, dir, name) {
  const list = await run("find", [dir, "-type", "f", "-printf", "%P\\n"]);
  const paths = list.stdout.trim().split("\n").sort().filter((_, i) => i % 10 === 0);
  const jobDir = join(ctx.work, `scale-job-${name}`);
  const archive = join(ctx.work, `scale-results-${name}.zip`);
  await mkdir(jobDir, { recursive: true });
  // make-results.mjs takes the paths on its command line: a file of them would do, but the tenth of 120,000 fits.
  const made = await ctx.worker("make-results.mjs", [dir, jobDir, archive, ...paths]);
  await rm(jobDir, { recursive: true, force: true });
  return { archive, ...made };
}

async function applyOnce(ctx, dir, results, name) {
  const target = join(ctx.work, `scale-apply-${name}`);
  await rm(target, { recursive: true, force: true });
  const cp = await run("cp", ["-al", dir, target]);
  if (cp.code !== 0) throw new Error(`cp -al failed: ${cp.stderr}`);
  try {
    return (await ctx.worker("apply.mjs", [results.archive, target])).first.ms;
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

async function measureScale(ctx, { name, dir, sink, runs }) {
  ctx.log(`  ${name}: scan and fingerprint`);
  const scans = [];
  for (let i = 0; i < 3; i++) scans.push(await ctx.worker("scan.mjs", [dir]));
  ctx.log(`  ${name}: pack+upload, then the unchanged re-run`);
  const prefix = `scale-${name}-${Date.now()}`;
  const first = await nbatchBuild(ctx, dir, prefix, { s3: sink.endpoint });
  const reruns = [];
  for (let i = 0; i < runs; i++) reruns.push((await nbatchBuild(ctx, dir, prefix, { s3: sink.endpoint })).submitMs);
  ctx.log(`  ${name}: applying a tenth of the files changed`);
  const results = await tenthChanged(ctx, dir, name);
  const applyMs = await applyOnce(ctx, dir, results, name);
  await rm(results.archive, { force: true });
  const { files, bytes } = scans[0];
  return {
    name,
    files,
    bytes,
    scanMs: median(scans.map((s) => s.scanMs)),
    fingerprintMs: median(scans.map((s) => s.fingerprintMs)),
    packUploadMs: first.submitMs,
    archiveBytes: sink.bytesUnder(ctx.bucket, prefix),
    peakRssKB: first.peakRssKB,
    rerunSubmitMs: median(reruns),
    apply: { ms: applyMs, files: results.files, bytes: results.bytes },
  };
}

export async function measureScales(ctx, { scales, linkedCopiesOf, sink, runs }) {
  const rows = [];
  for (const scale of scales) rows.push(await measureScale(ctx, { name: `${scale}x`, dir: await referenceDir(ctx.dataRoot, scale, ctx.log), sink, runs }));
  let note;
  if (linkedCopiesOf) {
    const { scale, copies } = linkedCopiesOf;
    const source = await referenceDir(ctx.dataRoot, scale, ctx.log);
    const bytes = rows.find((r) => r.name === `${scale}x`)?.bytes ?? 0;
    // The results of a tenth of the files, and the job's copy of them, are written out in full.
    const needed = 0.25 * copies * bytes + 2 * GB;
    const s = await statfs(ctx.work);
    if (s.bavail * s.bsize < needed) {
      note = `${copies * scale}x skipped: it needs ${(needed / GB).toFixed(0)} GB free for its results, and ${((s.bavail * s.bsize) / GB).toFixed(0)} GB are`;
      ctx.log(`  ${note}`);
    } else {
      const dir = await linkedCopies(ctx, source, copies);
      try {
        rows.push(await measureScale(ctx, { name: `${copies * scale}x`, dir, sink, runs }));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return { rows, note };
}

// Incremental inputs (docs/performance.md): what a run uploads after a small
// change and after changing 1% of the files, how soon it submits, and how
// fast the agent assembles a tree from a base and its increments against
// unpacking one archive of the same directory.
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { listFiles, prng, textBytes } from "./data.mjs";
import { median, run, settle } from "./proc.mjs";
import { nbatchBuild } from "./measure-upload.mjs";
import { startRangeServer } from "./range-server.mjs";
import { S3_LIKE } from "./ranged.mjs";

/** Replaces a file (never writing through the hard link to the cached data) with new text of about its size. */
async function rewrite(path, rand, size) {
  await writeFile(`${path}.new`, textBytes(rand, size));
  await rename(`${path}.new`, path);
  return size;
}

const inputsUrlOf = (job) => job.body.containerOverrides.environment.find((e) => e.name === "NBATCH_INPUTS_URL").value;

/** One build through the counting proxy: how long until SubmitJob, and how many bytes went up. */
async function counted(ctx, dir, prefix) {
  ctx.proxy.reset();
  const r = await nbatchBuild(ctx, dir, prefix, { s3: ctx.proxy.endpoint });
  return { submitMs: r.submitMs, uploadedBytes: ctx.proxy.counts.bodyBytes, s3Requests: ctx.proxy.counts.requests, inputsUrl: inputsUrlOf(r.job), stderr: r.stderr };
}

async function atScale(ctx, { name, source, scale, runs }) {
  const dir = join(ctx.work, `incremental-${name}`);
  await rm(dir, { recursive: true, force: true });
  const cp = await run("cp", ["-al", source, dir]);
  if (cp.code !== 0) throw new Error(`cp -al failed: ${cp.stderr}`);
  await settle();
  const prefix = `incremental-${name}-${Date.now()}`;
  const files = listFiles(scale);
  const small = files.filter((f) => f.kind === "small");
  const rand = prng(4242);
  ctx.log(`  ${name}: a fresh directory`);
  const fresh = await counted(ctx, dir, prefix);
  ctx.log(`  ${name}: one small file changed, ${runs} runs`);
  const oneFile = [];
  for (let i = 0; i < runs; i++) {
    await rewrite(join(dir, small[i].path), rand, 4096);
    oneFile.push(await counted(ctx, dir, prefix));
  }
  ctx.log(`  ${name}: 1% of the files changed`);
  const picked = files.filter((_, i) => i % 100 === 50);
  let changedBytes = 0;
  for (const f of picked) changedBytes += await rewrite(join(dir, f.path), rand, f.size ?? 8192);
  const onePercent = await counted(ctx, dir, prefix);
  const unchanged = await counted(ctx, dir, prefix);
  const treeBytes = await objectSize(ctx, onePercent.inputsUrl);
  ctx.log(`  ${name}: the agent's assembly`);
  const assembly = await measureAssembly(ctx, { name, dir, freshUrl: fresh.inputsUrl, incrementalUrl: onePercent.inputsUrl, runs });
  await rm(dir, { recursive: true, force: true });
  return {
    files: files.length,
    fresh: { submitMs: fresh.submitMs, uploadedBytes: fresh.uploadedBytes },
    oneFile: { submitMs: median(oneFile.map((o) => o.submitMs)), uploadedBytes: Math.max(...oneFile.map((o) => o.uploadedBytes)), samples: oneFile.map(({ stderr: _, ...o }) => o) },
    onePercent: { files: picked.length, changedBytes, treeBytes, uploadedBytes: onePercent.uploadedBytes, submitMs: onePercent.submitMs },
    unchanged: { uploadedBytes: unchanged.uploadedBytes, submitMs: unchanged.submitMs, s3Requests: unchanged.s3Requests },
    assembly,
  };
}

async function objectSize(ctx, url) {
  const key = url.slice(`s3://${ctx.bucket}/`.length);
  const res = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }));
  await res.Body.transformToByteArray();
  return res.ContentLength;
}

/**
 * The agent's first step, served S3-like (first-byte latency, per-connection
 * throughput; moto reads a whole object for every ranged GET): the fresh
 * tree (one pack), the tree after the increments (a base and its increments),
 * and one protocol 1 archive of the same final directory, as agents unpacked
 * inputs before.
 */
async function measureAssembly(ctx, { name, dir, freshUrl, incrementalUrl, runs }) {
  const server = await startRangeServer(S3_LIKE);
  const local = join(ctx.work, `assembly-${name}`);
  await mkdir(local, { recursive: true });
  try {
    const serve = async (key) => {
      const file = join(local, key.replaceAll("/", "_"));
      const res = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }));
      await pipeline(res.Body, createWriteStream(file));
      server.put(ctx.bucket, key, file);
    };
    const packsOf = (url) => url.replace(/trees\/[^/]+$/, "packs/");
    const listing = await ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: packsOf(freshUrl).slice(`s3://${ctx.bucket}/`.length) }));
    for (const o of listing.Contents ?? []) if (o.Key.endsWith(".zip")) await serve(o.Key);
    for (const url of [freshUrl, incrementalUrl]) await serve(url.slice(`s3://${ctx.bucket}/`.length));
    const v1 = join(local, "v1.zip");
    await ctx.worker("pack-v1.mjs", [dir, v1]);
    server.put(ctx.bucket, "v1/inputs.zip", v1);
    const contenders = { fresh: freshUrl, incremental: incrementalUrl, oneArchive: `s3://${ctx.bucket}/v1/inputs.zip` };
    const samples = { fresh: [], incremental: [], oneArchive: [] };
    const requests = {};
    for (let i = 0; i < runs; i++) {
      for (const [which, url] of Object.entries(contenders)) {
        const out = join(local, `out-${which}`);
        await rm(out, { recursive: true, force: true });
        await mkdir(out);
        const before = server.counts.requests;
        samples[which].push((await ctx.worker("assemble.mjs", [server.endpoint, url, out, join(local, "scratch.zip")])).ms);
        requests[which] = server.counts.requests - before;
        await rm(out, { recursive: true, force: true });
      }
    }
    return { freshMs: median(samples.fresh), incrementalMs: median(samples.incremental), oneArchiveMs: median(samples.oneArchive), requests, samples };
  } finally {
    await server.stop();
    await rm(local, { recursive: true, force: true });
  }
}

export async function measureIncremental(ctx, { reference, big, factor, scale, runs }) {
  return {
    factor,
    reference: await atScale(ctx, { name: "reference", source: reference, scale, runs }),
    big: big ? await atScale(ctx, { name: `x${factor}`, source: big, scale: scale * factor, runs }) : undefined,
  };
}

// Pack+upload side by side, the unchanged re-run, and peak memory.
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import { median, run } from "./proc.mjs";
import { startCountingProxy } from "./proxy.mjs";

/** Runs `nbatch build --aws-batch dir -- true`; resolves its wall time, time to SubmitJob and peak RSS. */
export async function nbatchBuild(ctx, dir, prefix, opts = {}) {
  const before = ctx.fake.jobs.size;
  const r = await run(process.execPath, [ctx.bin, "build", "--aws-batch", dir, "--", "true"], {
    env: ctx.env({ prefix, s3: opts.s3 }),
    rss: true,
    timeoutMs: 300_000,
  });
  const job = [...ctx.fake.jobs.values()][before];
  if (!job) throw new Error(`nbatch did not submit a job (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  return { ...r, job, submitMs: job.submittedAt - r.startEpoch };
}

async function inputsObjects(ctx, prefix) {
  const page = await ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: `${prefix}/inputs/` }));
  return page.Contents ?? [];
}

/** A fresh directory's one pack: the largest of the objects it uploaded. */
async function packOf(ctx, prefix) {
  return (await inputsObjects(ctx, prefix)).sort((a, b) => b.Size - a.Size)[0];
}

export async function inputsBytes(ctx, prefix) {
  return (await inputsObjects(ctx, prefix)).reduce((n, o) => n + (o.Size ?? 0), 0);
}

/** The archive nbatch uploaded under `prefix`, saved to `file`: the floor uploads exactly these bytes. */
async function saveInputs(ctx, prefix, file) {
  const object = await packOf(ctx, prefix);
  const res = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: object.Key }));
  await pipeline(res.Body, createWriteStream(file));
}

/** Whether a command runs at all (zip and the AWS CLI are optional contenders). */
async function available(cmd, args) {
  return run(cmd, args).then((r) => r.code === 0, () => false);
}

const awsEnv = {
  ...process.env,
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_DEFAULT_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
};

/** Whether zip and the AWS CLI are here to be compared with. */
export async function withZipAws(ctx) {
  const here = (await available("zip", ["-v"])) && (await available("aws", ["--version"]));
  if (!here) ctx.log("  zip or the AWS CLI is not installed: no zip -r + aws s3 cp comparison");
  return here;
}

/** `zip -r` of dir into zipFile (from scratch), then `aws s3 cp` of it to moto under `key`; its wall time. */
export async function zipAndCopy(ctx, dir, zipFile, key) {
  await rm(zipFile, { force: true });
  const za = await run("sh", ["-c", `cd "$1" && zip -q -r "$2" . && aws --endpoint-url "$3" s3 cp "$2" "s3://$4/$5" --only-show-errors`, "sh", dir, zipFile, ctx.moto.endpoint, ctx.bucket, key], { env: awsEnv });
  if (za.code !== 0) throw new Error(`zip -r + aws s3 cp failed: ${za.stderr.slice(-1000)}`);
  return za.wallMs;
}

/** The floor: `file` uploaded with nbatch's own uploader, from a worker; its wall time. */
export async function uploadFile(ctx, endpoint, file, key) {
  const fl = await run(process.execPath, [join(ctx.benchDir, "worker/upload-file.mjs"), endpoint, file, ctx.bucket, key], { env: ctx.workerEnv });
  if (fl.code !== 0) throw new Error(`floor upload failed: ${fl.stderr.slice(-1000)}`);
  return fl.wallMs;
}

export async function measureUpload(ctx, { dir, bigDir, runs, quick }) {
  const zipAws = await withZipAws(ctx);
  const zipFile = join(ctx.work, "zip-r.zip");
  const nbatchZip = join(ctx.work, "nbatch.zip");
  const samples = { nbatch: [], zipAws: [], floor: [], floorRatio: [], floorAws: [], rss: [], archiveBytes: [] };
  let lastPrefix;
  // Interleaved, so a neighbour's load on the machine hits every contender alike.
  for (let i = 0; i < runs; i++) {
    ctx.log(`  pack+upload run ${i + 1}/${runs}`);
    const prefix = `upload-${Date.now()}-${i}`;
    const nb = await nbatchBuild(ctx, dir, prefix);
    samples.nbatch.push(nb.submitMs);
    samples.rss.push(nb.peakRssKB);
    samples.archiveBytes.push(await inputsBytes(ctx, prefix));
    lastPrefix = prefix;
    // How hard nbatch compresses follows the link, so each run's archive differs a little.
    await saveInputs(ctx, prefix, nbatchZip);

    if (zipAws) samples.zipAws.push(await zipAndCopy(ctx, dir, zipFile, `zip-r/${i}.zip`));

    const floorMs = await uploadFile(ctx, ctx.moto.endpoint, nbatchZip, `floor/${i}.zip`);
    samples.floor.push(floorMs);
    samples.floorRatio.push(nb.submitMs / floorMs);

    if (zipAws && !quick) {
      const fa = await run("aws", ["--endpoint-url", ctx.moto.endpoint, "s3", "cp", nbatchZip, `s3://${ctx.bucket}/floor-aws/${i}.zip`, "--only-show-errors"], { env: awsEnv });
      samples.floorAws.push(fa.wallMs);
    }
  }
  const zipBytes = zipAws ? (await stat(zipFile)).size : undefined;
  // Quick only shows that the runs work: the comparisons that take longest are left out.
  if (!quick) ctx.log("  fixed settings on the local link");
  const settings = quick ? undefined : await compareSettings(ctx, { dir, endpoint: ctx.moto.endpoint, label: "local", runs });

  // Unchanged re-run: same directory, same prefix, inputs already there.
  ctx.log("  unchanged re-runs");
  const rerun = [];
  for (let i = 0; i < (quick ? 1 : Math.max(3, runs)); i++) {
    ctx.proxy.reset();
    const r = await nbatchBuild(ctx, dir, lastPrefix, { s3: ctx.proxy.endpoint });
    rerun.push({ submitMs: r.submitMs, uploadedBytes: ctx.proxy.counts.bodyBytes, s3Requests: ctx.proxy.counts.requests });
  }
  const scans = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) scans.push((await ctx.worker("scan.mjs", [dir])).ms);

  const bigPrefix = `upload-big-${Date.now()}`;
  if (!quick) ctx.log("  peak memory at 4x");
  const big = quick ? undefined : await nbatchBuild(ctx, bigDir, bigPrefix);

  return {
    nbatchMs: median(samples.nbatch),
    zipAwsMs: median(samples.zipAws),
    floorMs: median(samples.floor),
    // Each run against the floor of its own archive.
    floorRatio: median(samples.floorRatio),
    floorAwsCliMs: median(samples.floorAws),
    archiveBytes: median(samples.archiveBytes),
    zipRBytes: zipBytes,
    settings,
    samples,
    rerun: {
      submitMs: median(rerun.map((r) => r.submitMs)),
      uploadedBytes: Math.max(...rerun.map((r) => r.uploadedBytes)),
      s3Requests: median(rerun.map((r) => r.s3Requests)),
      scanMs: median(scans),
      samples: rerun,
    },
    rss: {
      refKB: median(samples.rss),
      refMaxKB: Math.max(...samples.rss.filter(Boolean)),
      bigKB: big?.peakRssKB,
      bigSubmitMs: big?.submitMs,
      bigArchiveBytes: big && (await inputsBytes(ctx, bigPrefix)),
    },
  };
}

/**
 * Packing held to storing, held to level 1, and following the link (as
 * nbatch does), each packing and uploading the directory from a worker.
 */
async function compareSettings(ctx, { dir, endpoint, label, runs }) {
  const samples = { adaptive: [], store: [], level1: [] };
  const levels = { adaptive: "adaptive", store: "0", level1: "1" };
  for (let i = 0; i < runs; i++) {
    for (const [name, level] of Object.entries(levels)) {
      samples[name].push((await ctx.worker("pack-upload.mjs", [endpoint, dir, ctx.bucket, `settings-${label}/${name}-${i}.zip`, level])).ms);
    }
  }
  return { adaptiveMs: median(samples.adaptive), storeMs: median(samples.store), level1Ms: median(samples.level1), samples };
}

/**
 * The same pack+upload through a proxy that lets request bodies out at
 * `bytesPerSecond`, like an office uplink: nbatch, where it compresses,
 * against the floor for its archive; and the fixed settings on this link.
 */
export async function measureLink(ctx, { dir, runs, bytesPerSecond }) {
  const link = await startCountingProxy(ctx.moto.endpoint, { bytesPerSecond });
  const archive = join(ctx.work, "link.zip");
  const samples = { nbatch: [], floor: [], floorRatio: [], archiveBytes: [] };
  try {
    for (let i = 0; i < runs; i++) {
      ctx.log(`  ${(bytesPerSecond / 1024 / 1024).toFixed(0)} MiB/s link, run ${i + 1}/${runs}`);
      const prefix = `link-${Date.now()}-${i}`;
      const nb = await nbatchBuild(ctx, dir, prefix, { s3: link.endpoint });
      samples.nbatch.push(nb.submitMs);
      samples.archiveBytes.push(await inputsBytes(ctx, prefix));
      await saveInputs(ctx, prefix, archive);
      const floorMs = await uploadFile(ctx, link.endpoint, archive, `link-floor/${i}.zip`);
      samples.floor.push(floorMs);
      samples.floorRatio.push(nb.submitMs / floorMs);
    }
    ctx.log("  fixed settings on that link");
    const settings = await compareSettings(ctx, { dir, endpoint: link.endpoint, label: "link", runs });
    return {
      bytesPerSecond,
      nbatchMs: median(samples.nbatch),
      floorMs: median(samples.floor),
      floorRatio: median(samples.floorRatio),
      archiveBytes: median(samples.archiveBytes),
      settings,
      samples,
    };
  } finally {
    await link.stop();
  }
}

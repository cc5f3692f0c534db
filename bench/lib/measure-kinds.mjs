// Pack+upload by kind of data: the reference directory, redundant sequence
// data, mostly compressed files and many tiny files. Each kind: nbatch
// build against zip -r + aws s3 cp on local S3, and against the floor,
// uploading the smallest archive zip -r makes (zip -9), on local S3 and
// through the 30 MiB/s link.
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { inputsBytes, nbatchBuild, uploadFile, withZipAws, zipAndCopy } from "./measure-upload.mjs";
import { median, run } from "./proc.mjs";
import { startCountingProxy } from "./proxy.mjs";

/** The smallest archive zip -r makes of dir: zip -9. */
async function smallestZip(dir, file) {
  await rm(file, { force: true });
  const z = await run("sh", ["-c", 'cd "$1" && zip -q -9 -r "$2" .', "sh", dir, file]);
  if (z.code !== 0) throw new Error(`zip -9 -r failed: ${z.stderr.slice(-1000)}`);
  return (await stat(file)).size;
}

async function measureKind(ctx, { name, dir }, { runs, link, zipAws }) {
  const floorZip = join(ctx.work, `floor-${name}.zip`);
  const floorBytes = zipAws ? await smallestZip(dir, floorZip) : undefined;
  const s = { local: [], link: [], localBytes: [], linkBytes: [], floorLocal: [], floorLink: [] };
  for (let i = 0; i < runs; i++) {
    ctx.log(`  ${name}: run ${i + 1}/${runs}`);
    for (const [where, s3] of [["local", undefined], ["link", link.endpoint]]) {
      const prefix = `kinds-${name}-${where}-${Date.now()}`;
      const nb = await nbatchBuild(ctx, dir, prefix, { s3 });
      s[where].push(nb.submitMs);
      s[`${where}Bytes`].push(await inputsBytes(ctx, prefix));
    }
    if (floorBytes !== undefined) {
      s.floorLocal.push(await uploadFile(ctx, ctx.moto.endpoint, floorZip, `kinds-floor/${name}-${i}.zip`));
      s.floorLink.push(await uploadFile(ctx, link.endpoint, floorZip, `kinds-floor-link/${name}-${i}.zip`));
    }
  }
  // zip -r is the slow contender by far (two minutes on the sequences): one run of it, after nbatch's.
  const zipAwsMs = zipAws ? await zipAndCopy(ctx, dir, join(ctx.work, `zip-r-${name}.zip`), `kinds-zip-r/${name}.zip`) : undefined;
  const zipRBytes = zipAws ? (await stat(join(ctx.work, `zip-r-${name}.zip`))).size : undefined;
  await rm(floorZip, { force: true });
  await rm(join(ctx.work, `zip-r-${name}.zip`), { force: true });
  return {
    name,
    inputBytes: await dirBytes(dir),
    local: { nbatchMs: median(s.local), archiveBytes: median(s.localBytes), floorMs: median(s.floorLocal), zipAwsMs, zipRBytes },
    link: { nbatchMs: median(s.link), archiveBytes: median(s.linkBytes), floorMs: median(s.floorLink) },
    floorBytes,
    samples: s,
  };
}

async function dirBytes(dir) {
  const r = await run("du", ["-sb", dir]);
  return Number(r.stdout.split("\t")[0]);
}

export async function measureKinds(ctx, { kinds, runs, bytesPerSecond }) {
  const zipAws = await withZipAws(ctx);
  const link = await startCountingProxy(ctx.moto.endpoint, { bytesPerSecond });
  try {
    const results = [];
    for (const kind of kinds) results.push(await measureKind(ctx, kind, { runs, link, zipAws }));
    return { bytesPerSecond, kinds: results };
  } finally {
    await link.stop();
  }
}

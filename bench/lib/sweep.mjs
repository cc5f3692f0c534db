// The choices in docs/performance.md: deflate level, part size and upload
// concurrency, and when ranged GETs beat fetching a whole results archive.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { median, run } from "./proc.mjs";
import { rangedCrossover } from "./ranged.mjs";

async function timed(ctx, script, args, runs) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const r = await run(process.execPath, [join(ctx.benchDir, "worker", script), ...args(i)], { env: ctx.workerEnv, rss: true });
    if (r.code !== 0) throw new Error(`${script} failed: ${r.stderr.slice(-1000)}`);
    samples.push({ wallMs: r.wallMs, rssKB: r.peakRssKB, ...JSON.parse(r.stdout.trim().split("\n").pop()) });
  }
  return { ms: median(samples.map((s) => s.ms ?? s.uploadMs)), rssKB: Math.max(...samples.map((s) => s.rssKB ?? 0)), bytes: samples[0].bytes, samples };
}

/** Each setting of nbatch's compression ladder on one core: speed and ratio on a table of the reference directory. */
async function ladder(ctx, dir) {
  const { LADDER } = await import(join(ctx.repo, "dist", "archive", "zip-pace.js"));
  const table = await readFile(join(dir, "data", "table-00.tsv"));
  return LADDER.filter((setting) => setting.level > 0).map((setting) => {
    let best = Infinity;
    let size = 0;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      size = deflateRawSync(table, setting).length;
      best = Math.min(best, performance.now() - start);
    }
    return { setting, mibPerSecond: table.length / 1024 / 1024 / (best / 1000), ratio: table.length / size };
  });
}

export async function sweep(ctx, { dir, runs }) {
  ctx.log("  the compression ladder on one core");
  const rungs = await ladder(ctx, dir);
  const levels = {};
  for (const level of [0, 1, 2, 4, 6, 9]) {
    ctx.log(`  deflate level ${level}`);
    levels[level] = await timed(ctx, "pack-upload.mjs", (i) => [ctx.moto.endpoint, dir, ctx.bucket, `sweep/level-${level}-${i}.zip`, String(level)], runs);
  }
  const nbatchZip = join(ctx.work, "sweep.zip");
  await ctx.worker("pack-to-file.mjs", [dir, nbatchZip]);
  const parts = {};
  for (const partMiB of [5, 8, 16]) {
    for (const queueSize of [1, 2, 3, 4, 8]) {
      ctx.log(`  part size ${partMiB} MiB x ${queueSize}`);
      parts[`${partMiB}MiBx${queueSize}`] = await timed(ctx, "upload-file.mjs", (i) => [ctx.moto.endpoint, nbatchZip, ctx.bucket, `sweep/part-${partMiB}-${queueSize}-${i}.zip`, String(partMiB), String(queueSize)], runs);
    }
  }
  ctx.log("  ranged GETs against a whole download");
  const ranged = await rangedCrossover(ctx, { archive: nbatchZip, runs: 1 });
  return { rungs, levels, parts, ranged };
}

/** The sweep as the markdown tables docs/performance.md quotes. */
export function renderSweep(s) {
  const MB = 1024 * 1024;
  const out = ["| setting | one core | ratio |", "|---|---|---|"];
  for (const r of s.rungs ?? []) out.push(`| level ${r.setting.level}${r.setting.strategy ? ", Huffman only" : ""} | ${r.mibPerSecond.toFixed(0)} MiB/s | ${r.ratio.toFixed(2)} |`);
  out.push("", "| deflate level | pack+upload | archive | peak RSS |", "|---|---|---|---|");
  for (const [level, r] of Object.entries(s.levels)) out.push(`| ${level} | ${(r.ms / 1000).toFixed(2)} s | ${(r.bytes / MB).toFixed(0)} MiB | ${(r.rssKB / 1024).toFixed(0)} MB |`);
  out.push("", "| part size x concurrency | upload of the finished archive | peak RSS |", "|---|---|---|");
  for (const [name, r] of Object.entries(s.parts)) out.push(`| ${name.replace("MiBx", " MiB x ")} | ${(r.ms / 1000).toFixed(2)} s | ${(r.rssKB / 1024).toFixed(0)} MB |`);
  const srv = s.ranged.server;
  out.push("", `Selective download, ${srv.latencyMs} ms first-byte latency, ${(srv.bytesPerSecond / MB).toFixed(0)} MiB/s per connection:`, "");
  out.push("| bytes selected | entries | ranged GETs (requests) | whole archive | nbatch picks |", "|---|---|---|---|---|");
  for (const row of s.ranged.rows) {
    const share = `${((row.ranged.selectedBytes / row.ranged.archiveBytes) * 100).toFixed(1)}% (${(row.ranged.selectedBytes / MB).toFixed(1)} MiB)`;
    out.push(`| ${share} | ${row.ranged.entries} | ${(row.ranged.ms / 1000).toFixed(2)} s (${row.ranged.requests}) | ${(row.whole.ms / 1000).toFixed(2)} s | ${row.picks} |`);
  }
  return out.join("\n") + "\n";
}

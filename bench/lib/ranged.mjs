// When should a selective --download use ranged GETs instead of fetching the
// whole results archive? Both read the same entries of the same archive, from
// a server with S3's first-byte latency and a per-connection throughput cap.
import { join } from "node:path";
import { median } from "./proc.mjs";
import { startRangeServer } from "./range-server.mjs";

// S3's documented first-byte latency is tens of milliseconds for small
// objects; one connection to S3 from EC2 carries roughly 50-100 MB/s.
export const S3_LIKE = { latencyMs: 30, bytesPerSecond: 80 * 1024 * 1024 };

export async function rangedCrossover(ctx, { archive, runs }) {
  const { ENTRY_COST_BYTES } = await import(join(ctx.benchDir, "..", "dist", "job", "fetch.js"));
  const server = await startRangeServer(S3_LIKE);
  server.put("bench", "results.zip", archive);
  const rows = [];
  try {
    for (const fraction of [0.01, 0.1, 0.25, 0.5, 1]) {
      const row = { fraction };
      for (const method of ["ranged", "whole"]) {
        const samples = [];
        for (let i = 0; i < runs; i++) {
          const before = server.counts.requests;
          const r = await ctx.worker("ranged.mjs", [server.endpoint, "bench", "results.zip", method, String(fraction), "7"]);
          samples.push({ ...r, requests: server.counts.requests - before });
        }
        const first = samples[0];
        row[method] = { ms: median(samples.map((s) => s.ms)), entries: first.entries, selectedBytes: first.selectedBytes, archiveBytes: first.archiveBytes, requests: first.requests };
      }
      // What nbatch's rule would choose for this selection (docs/performance.md).
      row.picks = row.ranged.selectedBytes + row.ranged.entries * ENTRY_COST_BYTES < row.ranged.archiveBytes ? "ranged" : "whole";
      ctx.log(`  ${(fraction * 100).toFixed(1)}% of the bytes (${row.ranged.entries} entries): ranged ${row.ranged.ms.toFixed(0)} ms, whole ${row.whole.ms.toFixed(0)} ms`);
      rows.push(row);
    }
  } finally {
    await server.stop();
  }
  return { server: S3_LIKE, rows };
}

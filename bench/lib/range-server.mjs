// A read-only S3 (HeadObject and GetObject with Range) over local files, with
// S3-like first-byte latency and per-connection throughput. moto cannot stand
// in here: it reads the whole object for every ranged GET, so its ranged
// reads cost as much as a full download (see docs/performance.md).
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startRangeServer({ latencyMs, bytesPerSecond }) {
  const objects = new Map();
  const counts = { requests: 0, bytes: 0 };
  const server = createServer(async (req, res) => {
    counts.requests += 1;
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = objects.get(path);
    await sleep(latencyMs);
    if (!file) return res.writeHead(404, { "content-type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
    const { size } = await stat(file);
    const headers = { "content-type": "application/zip", etag: '"bench"', "last-modified": new Date(0).toUTCString(), "accept-ranges": "bytes" };
    if (req.method === "HEAD") return res.writeHead(200, { ...headers, "content-length": size }).end();
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    res.writeHead(m ? 206 : 200, {
      ...headers,
      "content-length": end - start + 1,
      ...(m ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    });
    const began = performance.now();
    let sent = 0;
    for await (const chunk of createReadStream(file, { start, end, highWaterMark: 256 * 1024 })) {
      if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
      sent += chunk.length;
      counts.bytes += chunk.length;
      const due = (sent / bytesPerSecond) * 1000 - (performance.now() - began);
      if (due > 0) await sleep(due);
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    counts,
    /** Serves `file` as s3://bucket/key. */
    put(bucket, key, file) {
      objects.set(`/${bucket}/${key}`, file);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// A counting pass-through in front of moto's S3: how many requests of each
// method, and how many request-body bytes went up (the bytes "uploaded").
// With `bytesPerSecond`, request bodies share one uplink of that speed.
import { createServer, request } from "node:http";
import { Transform } from "node:stream";

/** One shared link: every request body's bytes leave no faster than the rate allows. */
function uplink(bytesPerSecond) {
  let freeAt = 0;
  return () =>
    new Transform({
      transform(chunk, _enc, done) {
        const now = performance.now();
        freeAt = Math.max(now, freeAt) + (chunk.length / bytesPerSecond) * 1000;
        setTimeout(() => done(null, chunk), freeAt - now);
      },
    });
}

export async function startCountingProxy(target, { bytesPerSecond } = {}) {
  const link = bytesPerSecond ? uplink(bytesPerSecond) : undefined;
  const url = new URL(target);
  const counts = { requests: 0, bodyBytes: 0, byMethod: {} };
  const server = createServer((req, res) => {
    counts.requests += 1;
    counts.byMethod[req.method] = (counts.byMethod[req.method] ?? 0) + 1;
    const upstream = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => res.destroy(err));
    req.on("data", (c) => (counts.bodyBytes += c.length));
    if (link) req.pipe(link()).pipe(upstream);
    else req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    counts,
    reset() {
      counts.requests = 0;
      counts.bodyBytes = 0;
      counts.byMethod = {};
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

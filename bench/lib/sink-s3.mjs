// An S3 that keeps no bytes, for uploads of many gigabytes: moto assembles
// a multipart object in memory twice over (10 GB of RAM for a 5 GiB
// archive), and what is measured here is nbatch, not the store. It answers
// the calls nbatch build makes, path-style: HeadBucket, HeadObject (from
// the sizes of what was put), multipart uploads and PutObject (bodies
// counted and dropped), GetObject of files the benchmark serves (results
// archives), and DeleteObject.
import { createReadStream } from "node:fs";
import { createServer } from "node:http";

export async function startSinkS3() {
  const objects = new Map(); // "bucket/key" -> { size, file? }
  const uploads = new Map(); // uploadId -> { key, size }
  let seq = 0;
  const counts = { requests: 0, bodyBytes: 0 };
  const xml = (res, status, body) => res.writeHead(status, { "content-type": "application/xml" }).end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
  const notFound = (res, head) => (head ? res.writeHead(404).end() : xml(res, 404, "<Error><Code>NoSuchKey</Code><Message>not found</Message></Error>"));

  const server = createServer(async (req, res) => {
    counts.requests += 1;
    const url = new URL(req.url, "http://sink");
    const path = decodeURIComponent(url.pathname.slice(1));
    const [bucket, ...rest] = path.split("/");
    const key = `${bucket}/${rest.join("/")}`;
    let size = 0;
    for await (const chunk of req) size += chunk.length;
    counts.bodyBytes += size;
    const q = url.searchParams;
    if (!rest.join("/")) return res.writeHead(200).end();
    if (req.method === "POST" && q.has("uploads")) {
      const id = `up-${++seq}`;
      uploads.set(id, { key, size: 0 });
      return xml(res, 200, `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${rest.join("/")}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (req.method === "PUT" && q.has("uploadId")) {
      const up = uploads.get(q.get("uploadId"));
      if (!up) return xml(res, 404, "<Error><Code>NoSuchUpload</Code></Error>");
      up.size += size;
      return res.writeHead(200, { etag: `"part-${q.get("partNumber")}"` }).end();
    }
    if (req.method === "POST" && q.has("uploadId")) {
      const up = uploads.get(q.get("uploadId"));
      uploads.delete(q.get("uploadId"));
      objects.set(up.key, { size: up.size });
      return xml(res, 200, `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${rest.join("/")}</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>`);
    }
    if (req.method === "DELETE") {
      if (q.has("uploadId")) uploads.delete(q.get("uploadId"));
      else objects.delete(key);
      return res.writeHead(204).end();
    }
    if (req.method === "PUT") {
      objects.set(key, { size });
      return res.writeHead(200, { etag: '"put"' }).end();
    }
    const obj = objects.get(key);
    if (!obj) return notFound(res, req.method === "HEAD");
    const headers = { "content-length": obj.size, etag: '"served"', "last-modified": new Date(0).toUTCString(), "accept-ranges": "bytes" };
    if (req.method === "HEAD") return res.writeHead(200, headers).end();
    if (!obj.file) return xml(res, 500, "<Error><Code>InternalError</Code><Message>the sink keeps no bytes</Message></Error>");
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (!range) return createReadStream(obj.file).pipe(res.writeHead(200, headers));
    const [start, end] = [Number(range[1]), Math.min(Number(range[2]), obj.size - 1)];
    res.writeHead(206, { ...headers, "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${obj.size}` });
    createReadStream(obj.file, { start, end }).pipe(res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    counts,
    /** Serves `file` of `size` bytes as s3://bucket/key (at once: a job's results must be there when asked for). */
    serve(bucket, key, file, size) {
      objects.set(`${bucket}/${key}`, { size, file });
    },
    /** What was uploaded under s3://bucket/prefix, in bytes. */
    bytesUnder(bucket, prefix) {
      let n = 0;
      for (const [k, o] of objects) if (k.startsWith(`${bucket}/${prefix}`)) n += o.size;
      return n;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

import { BatchClient, DescribeJobsCommand } from "@aws-sdk/client-batch";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";

// A stand-in for moto and the executor: every call succeeds with a minimal answer.
let target: Server;
let targetHits = 0;
let proxy: FaultProxy;

beforeAll(async () => {
  target = createServer((req, res) => {
    targetHits++;
    req.resume().on("end", () => {
      if (req.headers["x-amz-target"]) res.writeHead(200, { "content-type": "application/x-amz-json-1.1" }).end('{"events":[],"nextForwardToken":"f/1"}');
      else if (req.url?.startsWith("/v1/")) res.writeHead(200, { "content-type": "application/json" }).end('{"jobs":[]}');
      else res.writeHead(200, { etag: '"abc"', "content-length": "5" }).end(req.method === "HEAD" ? undefined : "hello");
    });
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
  proxy = await startFaultProxy({ default: `http://127.0.0.1:${(target.address() as AddressInfo).port}` });
});
afterAll(async () => {
  await proxy.stop();
  await new Promise((r) => target.close(r));
});
afterEach(() => {
  proxy.requests.length = 0;
});

const config = () => ({
  endpoint: proxy.endpoint,
  region: "us-east-1",
  maxAttempts: 1,
  credentials: { accessKeyId: "k", secretAccessKey: "s" },
});
const s3 = () => new S3Client({ ...config(), forcePathStyle: true });
const logs = () => new CloudWatchLogsClient(config());
const batch = () => new BatchClient(config());
const nameOf = (p: Promise<unknown>) => p.then(() => "ok", (err: Error) => err.name);

describe("fault proxy", () => {
  it("forwards untouched calls and records their service, operation, bucket and key", async () => {
    const before = targetHits;
    expect(await (await s3().send(new GetObjectCommand({ Bucket: "b", Key: "dir/k.txt" }))).Body!.transformToString()).toBe("hello");
    await s3().send(new UploadPartCommand({ Bucket: "b", Key: "k", UploadId: "u1", PartNumber: 2, Body: "x" }));
    await logs().send(new GetLogEventsCommand({ logGroupName: "g", logStreamName: "s" }));
    await batch().send(new DescribeJobsCommand({ jobs: ["j1"] }));
    expect(targetHits - before).toBe(4);
    expect(proxy.requests.map((r) => [r.service, r.operation])).toEqual([
      ["s3", "GetObject"],
      ["s3", "UploadPart"],
      ["logs", "GetLogEvents"],
      ["batch", "DescribeJobs"],
    ]);
    expect(proxy.requests[0]).toMatchObject({ bucket: "b", key: "dir/k.txt", region: "us-east-1" });
    expect(proxy.requests[1]!.query.get("partNumber")).toBe("2");
    expect(proxy.requests[2]!.body).toMatchObject({ logGroupName: "g", logStreamName: "s" });
    expect(proxy.requests[3]!.body).toEqual({ jobs: ["j1"] });
  });

  it("answers throttling in each protocol's own shape, which the SDK recognises", async () => {
    const rule = proxy.add({ operation: /^(GetObject|HeadObject|GetLogEvents|DescribeJobs)$/ }, { error: "Throttling" });
    try {
      expect(await nameOf(s3().send(new GetObjectCommand({ Bucket: "b", Key: "k" })))).toBe("SlowDown");
      const head = await s3().send(new HeadObjectCommand({ Bucket: "b", Key: "k" })).catch((err) => err);
      expect(head.$metadata.httpStatusCode).toBe(503);
      expect(await nameOf(logs().send(new GetLogEventsCommand({ logGroupName: "g", logStreamName: "s" })))).toBe("ThrottlingException");
      expect(await nameOf(batch().send(new DescribeJobsCommand({ jobs: ["j"] })))).toBe("TooManyRequestsException");
      expect(rule.hits).toBe(4);
    } finally {
      rule.remove();
    }
  });

  it("answers access denied and expired tokens by name", async () => {
    const denied = proxy.add({ service: "s3", operation: "PutObject" }, { error: "AccessDenied" });
    const expired = proxy.add({ service: "batch" }, { error: "ExpiredToken" });
    try {
      expect(await nameOf(s3().send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" })))).toBe("AccessDenied");
      expect(await nameOf(batch().send(new DescribeJobsCommand({ jobs: ["j"] })))).toBe("ExpiredTokenException");
    } finally {
      denied.remove();
      expired.remove();
    }
  });

  it("applies a fault to the first N matches after skipping some, then lets calls through", async () => {
    const rule = proxy.add({ service: "logs" }, { error: { status: 400, code: "ResourceNotFoundException" } }, { skip: 1, times: 2 });
    const call = () => nameOf(logs().send(new GetLogEventsCommand({ logGroupName: "g", logStreamName: "s" })));
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await call());
    expect(results).toEqual(["ok", "ResourceNotFoundException", "ResourceNotFoundException", "ok"]);
    expect(rule.hits).toBe(2);
    expect(proxy.requests.map((r) => r.fault)).toEqual([undefined, "error:ResourceNotFoundException", "error:ResourceNotFoundException", undefined]);
    rule.remove();
  });

  it("drops connections before or halfway through the answer, matching on query and headers", async () => {
    const before = proxy.add({ query: { partNumber: "2", uploadId: true } }, "drop", { times: 1 });
    const midway = proxy.add({ headers: { "x-amz-meta-mark": /^mid/ } }, "drop-mid-response", { times: 1 });
    try {
      const part = (n: number) => s3().send(new UploadPartCommand({ Bucket: "b", Key: "k", UploadId: "u", PartNumber: n, Body: "x" }));
      expect(await nameOf(part(1))).toBe("ok");
      const dropped = await part(2).catch((err) => err);
      expect(dropped.code ?? dropped.name).toMatch(/ECONNRESET|socket hang up/i);
      expect(await nameOf(part(2))).toBe("ok");
      const get = await s3().send(new GetObjectCommand({ Bucket: "b", Key: "k" }));
      expect(await get.Body!.transformToString()).toBe("hello");
      const cut = await s3()
        .send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x", Metadata: { mark: "middle" } }))
        .then((r) => r, (err) => err);
      expect(midway.hits).toBe(1);
      expect(cut).toBeInstanceOf(Error);
      expect(before.hits).toBe(1);
    } finally {
      before.remove();
      midway.remove();
    }
  });

  it("delays and stalls", async () => {
    const slow = proxy.add({ service: "batch" }, { delayMs: 300 }, { times: 1 });
    const started = Date.now();
    await batch().send(new DescribeJobsCommand({ jobs: ["j"] }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    slow.remove();

    const stall = proxy.add({ service: "batch" }, "stall", { times: 1 });
    const client = new BatchClient({ ...config(), requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true } });
    expect(await nameOf(client.send(new DescribeJobsCommand({ jobs: ["j"] })))).toBe("TimeoutError");
    expect(stall.hits).toBe(1);
    stall.remove();
  });
});

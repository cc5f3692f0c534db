import { afterAll, beforeAll, expect, it } from "vitest";
import type { CliResult } from "../support/cli.js";
import type { ProxiedRequest } from "../support/fault-proxy.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

interface Case {
  args: (dir: string) => string[];
  /** The request AWS answers with no. */
  refused: (q: ProxiedRequest) => boolean;
}

// What each of these cases prints is checked in bad-input.test.ts; this file is about
// what nbatch does with the answer. Only asking again (or uploading anyway) would make it slow.
describeWithMoto("nbatch build: a setting AWS says no to fails fast", () => {
  let w: World;
  /** Each case's result and every request it made, all run at once in beforeAll. */
  const results: Record<string, { r: CliResult; requests: ProxiedRequest[] }> = {};
  const cases: Record<string, Case> = {
    unknownBucket: {
      args: (d) => ["build", "--aws-batch", "--aws-batch-s3-bucket", "s3://nbatch-no-such-bucket-e2e/x", d, "--", "true"],
      refused: (q) => q.operation === "HeadBucket" && q.bucket === "nbatch-no-such-bucket-e2e",
    },
    unknownQueue: {
      args: (d) => ["build", "--aws-batch", "--aws-batch-queue", "no-such-queue", d, "--", "true"],
      refused: (q) => q.operation === "DescribeJobQueues",
    },
    disabledQueue: {
      args: (d) => ["build", "--aws-batch", "--aws-batch-queue", "disabled-queue", d, "--", "true"],
      refused: (q) => q.operation === "DescribeJobQueues",
    },
    unknownJob: {
      args: (d) => ["build", "--aws-batch", "--aws-batch-job", "no-such-job", d, "--", "true"],
      refused: (q) => q.operation === "DescribeJobDefinitions",
    },
  };

  beforeAll(async () => {
    w = await startWorld();
    await w.executor.createQueue("disabled-queue", { state: "DISABLED" });
    const dir = await w.makeDir("inputs", { "data.txt": "data" });
    await Promise.all(
      Object.entries(cases).map(async ([name, c]) => {
        // A proxy of its own records just this case's requests.
        const { proxy, env } = await w.proxy();
        results[name] = { r: await w.nbatch(c.args(dir), { env }), requests: proxy.requests };
      }),
    );
  });
  afterAll(() => w?.stop());

  it.each(Object.keys(cases))("takes AWS's no for an answer, asking once and uploading nothing: %s", (name) => {
    const { r, requests } = results[name]!;
    expect(r.code, r.stderr).toBe(1);
    expect(requests.filter(cases[name]!.refused)).toHaveLength(1);
    const writes = requests.filter((q) => /^(PutObject|CreateMultipartUpload|UploadPart|SubmitJob)$/.test(q.operation ?? ""));
    expect(writes.map((q) => q.operation)).toEqual([]);
  });
});

import { afterAll, beforeAll, expect, it } from "vitest";
import type { CliResult } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

// What each of these cases prints is checked in bad-input.test.ts; this file is about how soon.
describeWithMoto("nbatch build: a setting AWS says no to fails fast", () => {
  let w: World;
  /** Each case's result and how long it took, all run at once in beforeAll. */
  const results: Record<string, CliResult & { ms: number }> = {};
  const cases: Record<string, (dir: string) => string[]> = {
    unknownBucket: (d) => ["build", "--aws-batch", "--aws-batch-s3-bucket", "s3://nbatch-no-such-bucket-e2e/x", d, "--", "true"],
    unknownQueue: (d) => ["build", "--aws-batch", "--aws-batch-queue", "no-such-queue", d, "--", "true"],
    disabledQueue: (d) => ["build", "--aws-batch", "--aws-batch-queue", "disabled-queue", d, "--", "true"],
    unknownJob: (d) => ["build", "--aws-batch", "--aws-batch-job", "no-such-job", d, "--", "true"],
  };

  beforeAll(async () => {
    w = await startWorld();
    await w.executor.createQueue("disabled-queue", { state: "DISABLED" });
    const dir = await w.makeDir("inputs", { "data.txt": "data" });
    await Promise.all(
      Object.entries(cases).map(async ([name, args]) => {
        const started = Date.now();
        const r = await w.nbatch(args(dir));
        results[name] = { ...r, ms: Date.now() - started };
      }),
    );
  });
  afterAll(() => w?.stop());

  it.each(Object.keys(cases))("fails within seconds when AWS says no: %s", (name) => {
    const r = results[name]!;
    expect(r.code, r.stderr).toBe(1);
    expect(r.ms).toBeLessThan(8000);
  });
});

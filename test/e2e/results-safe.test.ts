import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnCli, type CliResult } from "../support/cli.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { describeWithMoto } from "../support/moto.js";
import { scenario } from "../support/scenario.js";
import { until } from "../support/until.js";
import { startWorld, type World } from "../support/world.js";

const RESULTS = /runs\/[^/]+\/results\.zip$/;
const BIG = 2 * 1024 * 1024;
/** The job makes this much incompressible data (stored in the archive), so a transfer can break in the middle of it. */
const MAKE_BIG = `head -c ${BIG} /dev/urandom > big.bin && sha256sum big.bin > big.sum`;

interface Outcome {
  r: CliResult;
  dir: string;
  proxy?: FaultProxy;
  /** What the test saw while the run was under way. */
  seen?: Record<string, unknown>;
}

/** The command the last line gives to bring the results home, as arguments for nbatch. */
function attachArgs(stderr: string): string[] {
  const m = /(?:bring them home|re-attach) with: (nbatch build --attach \S+ \S+)$/m.exec(stderr);
  if (!m) throw new Error(`no re-attach command in:\n${stderr}`);
  return m[1]!.split(" ").slice(1);
}

/** The one error line: where the results are, how to fetch them, never "internal error" nor "try again". */
function expectResultsSafe(r: CliResult, cause: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const error = r.stderr.trimEnd().split("\n").at(-1)!;
  expect(error).toMatch(new RegExp(`^nbatch: error: ${cause.source}.*; the job's results are safe at s3://\\S+/results\\.zip; bring them home with: nbatch build --attach \\S+ \\S+$`));
  expect(r.stderr).not.toMatch(/internal error|try again| {4}at /i);
}

async function expectBroughtHome(w: World, r: CliResult, dir: string): Promise<void> {
  const again = await w.nbatch(attachArgs(r.stderr));
  expect(again.code, again.stderr).toBe(0);
  await expectBigFile(dir);
}

async function expectBigFile(dir: string): Promise<void> {
  const sum = await readFile(join(dir, "big.sum"), "utf8");
  expect(execFileSync("sha256sum", ["big.bin"], { cwd: dir, encoding: "utf8" })).toBe(sum);
  expect((await readdir(dir)).filter((n) => n.startsWith(".nbatch-tmp-"))).toEqual([]);
}

describeWithMoto("after the job has run, its results are never lost", () => {
  let w: World;
  let tmpdir: string;
  const outcomes: Record<string, Promise<Outcome>> = {};

  beforeAll(async () => {
    w = await startWorld();
    tmpdir = await w.makeDir("tmpdir", {});
    const env = { ...w.env, TMPDIR: tmpdir };

    outcomes.serverErrors = scenario(async () => {
      const { proxy, env: viaProxy } = await w.proxy();
      proxy.add({ service: "s3", operation: "GetObject", path: RESULTS }, { error: { status: 500, code: "InternalError" } });
      const dir = await w.makeDir("server-errors", {});
      return { r: await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", MAKE_BIG], { env: { ...viaProxy, TMPDIR: tmpdir } }), dir, proxy };
    });

    outcomes.reset = scenario(async () => {
      const { proxy, env: viaProxy } = await w.proxy();
      proxy.add({ service: "s3", operation: "GetObject", path: RESULTS }, "drop-mid-response", { times: 1 });
      const dir = await w.makeDir("reset", {});
      return { r: await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", MAKE_BIG], { env: { ...viaProxy, TMPDIR: tmpdir } }), dir, proxy };
    });

    outcomes.noTmpdir = scenario(async () => {
      const dir = await w.makeDir("no-tmpdir", {});
      return { r: await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", MAKE_BIG], { env: { ...w.env, TMPDIR: join(tmpdir, "does-not-exist") } }), dir };
    });

    outcomes.expired = scenario(async () => {
      const { proxy, env: viaProxy } = await w.proxy();
      const dir = await w.makeDir("expired", {});
      const gate = w.gate();
      const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", `${gate.wait}; ${MAKE_BIG}`], { env: { ...viaProxy, TMPDIR: tmpdir } });
      await p.waitForOutput("Job status: RUNNING", 30_000);
      proxy.add({ service: "batch", operation: "DescribeJobs" }, { error: "ExpiredToken" });
      const r = await p.result;
      const jobId = /Submitted job (\S+)/.exec(r.stderr)?.[1];
      const seen = { terminated: proxy.requests.some((q) => q.operation === "TerminateJob"), status: w.executor.jobs().find((j) => j.jobId === jobId)?.status };
      await gate.open();
      await until("the job to end", () => w.executor.jobs().find((j) => j.jobId === jobId)?.status === "SUCCEEDED");
      return { r, dir, proxy, seen };
    });

    outcomes.removed = scenario(async () => {
      const dir = await w.makeDir("removed", {});
      const gate = w.gate();
      const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", `${gate.wait}; ${MAKE_BIG}`], { env });
      await p.waitForOutput("Job status: RUNNING", 30_000);
      await rm(dir, { recursive: true });
      await gate.open();
      return { r: await p.result, dir };
    });

    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      outcomes[sig] = scenario(async () => {
        const { proxy, env: viaProxy } = await w.proxy();
        proxy.add({ service: "s3", operation: "GetObject", path: RESULTS }, "stall-mid-response", { times: 1 });
        const dir = await w.makeDir(`signal-${sig}`, {});
        const p = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", MAKE_BIG], { env: { ...viaProxy, TMPDIR: tmpdir } });
        // Signalled once part of the archive is on disk, wherever it is kept.
        const partial = async () => {
          const here = (await readdir(dir)).filter((n) => n.startsWith(".nbatch-tmp-")).map((n) => join(dir, n));
          const there = (await readdir(tmpdir, { recursive: true })).filter((n) => n.endsWith("results.zip")).map((n) => join(tmpdir, n));
          const sizes = await Promise.all([...here, ...there].map((f) => stat(f).then((s) => s.size, () => 0)));
          return sizes.some((n) => n > 0);
        };
        await until("part of the results archive on disk", partial, 40_000);
        p.kill(sig);
        return { r: await p.result, dir, proxy };
      });
    }
    await Promise.allSettled(Object.values(outcomes));
  }, 90_000);
  afterAll(() => w?.stop());

  it("S3 failing after its retries: says where the results are and the command that fetches them, which does", async () => {
    const { r, dir } = await outcomes.serverErrors!;
    expect(r.stderr).toMatch(/Job SUCCEEDED/);
    expectResultsSafe(r, /s3:GetObject on s3:\/\/\S+\/results\.zip \(region us-east-1\).* failed: InternalError.*\(HTTP 500\)/);
    await expectBroughtHome(w, r, dir);
  });

  it("a connection reset mid-download: the download resumes from where it broke, with a ranged GET", async () => {
    const { r, dir, proxy } = await outcomes.reset!;
    expect(r.code, r.stderr).toBe(0);
    await expectBigFile(dir);
    const gets = proxy!.requests.filter((q) => q.operation === "GetObject" && RESULTS.test(q.key ?? ""));
    expect(gets.map((q) => q.fault)).toEqual(["drop-mid-response", undefined]);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(String(gets[1]!.headers.range))?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(gets[1]!.headers["if-match"]).toBeDefined();
  });

  it("does not need $TMPDIR: the archive is kept beside the files it becomes", async () => {
    const { r, dir } = await outcomes.noTmpdir!;
    expect(r.code, r.stderr).toBe(0);
    await expectBigFile(dir);
  });

  it("credentials expiring while watching: a detach with the re-attach command and exit 1; the job goes on and the command brings it home", async () => {
    const { r, dir, seen } = await outcomes.expired!;
    expect(r.code, r.stderr).toBe(1);
    const error = r.stderr.trimEnd().split("\n").at(-1)!;
    expect(error).toMatch(
      /^nbatch: error: AWS credentials expired while watching job \S+; it goes on in AWS Batch and leaves its results at s3:\/\/\S+\/results\.zip: refresh them \(e\.g\. `aws sso login`\), then re-attach with: nbatch build --attach \S+ \S+$/,
    );
    expect(r.stderr).not.toMatch(/internal error|try again/i);
    expect(seen).toEqual({ terminated: false, status: "RUNNING" });
    await expectBroughtHome(w, r, dir);
  });

  it("the directory removed while the job ran: says so, and where the results are", async () => {
    const { r, dir } = await outcomes.removed!;
    expectResultsSafe(r, new RegExp(`the directory ${dir} no longer exists: make it again, or give another one`));
    await mkdir(dir);
    await expectBroughtHome(w, r, dir);
  });

  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    it(`${sig} during the download: says what happened and where the results are, exits 130, leaves no partial archive`, async () => {
      const { r, dir } = await outcomes[sig]!;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(
        new RegExp(`^Interrupted \\(${sig}\\) while bringing the results home; nothing half-written is left, and the job's results are safe at s3://\\S+/results\\.zip; bring them home with: nbatch build --attach \\S+ \\S+$`, "m"),
      );
      expect((await readdir(dir)).filter((n) => n.startsWith(".nbatch-tmp-"))).toEqual([]);
      expect(await readdir(tmpdir, { recursive: true })).not.toContainEqual(expect.stringMatching(/results\.zip$/));
      await expectBroughtHome(w, r, dir);
    });
  }
});

describeWithMoto("after the job has run, with too little room for its results", () => {
  let w: World;
  let dir: string | undefined;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    if (dir) execFileSync("umount", [dir]);
    await w?.stop();
  });

  it("checks the free space of the directory's disk before downloading, and says where the results are", async (ctx) => {
    const target = await w.makeDir("small-disk", {});
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", target], { stdio: "pipe" });
    } catch (err) {
      ctx.skip(`could not mount a tmpfs (that needs root with CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
    }
    dir = target;
    const r = await w.nbatch(["build", "--aws-batch", target, "--", "sh", "-c", `head -c ${BIG} /dev/urandom > big.bin`]);
    expectResultsSafe(r, new RegExp(`the results archive needs 2\\.\\d MB and the disk of ${target} has [\\d.]+ [kM]?B free: free some space`));
    expect(await readdir(target)).toEqual([]);
  });
});

import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { nbatchBin, repoRoot } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

// About 1.3 MB of log: far more than a pipe holds, so nbatch goes on writing after head has gone.
const LINES = 20_000;
const JOB = `seq -f 'line %g of a log much longer than any pipe holds' 1 ${LINES}; echo made > made.txt`;

interface PipedResult {
  /** nbatch's own exit status, not head's. */
  code: number;
  /** What head let through. */
  stdout: string;
  stderr: string;
}

describeWithMoto("a reader that stops early (nbatch ... | head -1)", () => {
  let w: World;
  let dir: string;
  let build: PipedResult;

  /** Runs `nbatch args | head -1` in bash, which exits with nbatch's status (PIPESTATUS[0]). */
  function throughHead(args: string[]): Promise<PipedResult> {
    const script = '"$0" "$@" | head -1; exit "${PIPESTATUS[0]}"';
    const child = spawn("bash", ["-c", script, process.execPath, nbatchBin, ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...w.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  /** No stack trace, no EPIPE, no Node warning: a closed pipe is not an error of nbatch's. */
  function expectQuiet(r: PipedResult): void {
    expect(r.stderr).not.toContain("    at ");
    expect(r.stderr).not.toMatch(/EPIPE|error|warning/i);
  }

  beforeAll(async () => {
    w = await startWorld();
    dir = await w.makeDir("piped", {});
    build = await throughHead(["build", "--aws-batch", dir, "--", "sh", "-c", JOB]);
  });
  afterAll(() => w?.stop());

  it("nbatch build goes on after its reader has gone: the results come home and it exits with the job's status", async () => {
    expect(build.code, build.stderr).toBe(0);
    expect(build.stdout).toMatch(/^\[batch\] \[[^\]]+\] line 1 of a log much longer than any pipe holds\n$/);
    expectQuiet(build);
    expect(build.stderr).toMatch(/^Results: 1 file written/m);
    expect(await readFile(join(dir, "made.txt"), "utf8")).toBe("made\n");
  });

  it("nbatch logs reads the job's log to the end, says how the job ended, and exits 0", async () => {
    const jobId = /Submitted job (\S+)/.exec(build.stderr)![1]!;
    const r = await throughHead(["logs", jobId]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/line 1 of a log much longer than any pipe holds\n$/);
    expectQuiet(r);
    // Printed after the last log line: nbatch read the whole log although nobody was reading its output.
    expect(r.stderr).toMatch(/Job SUCCEEDED after \d+ seconds? \(exited 0\)/);
  });
});

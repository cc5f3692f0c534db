import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { nbatchBin, repoRoot } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

/**
 * Ctrl-C on a real terminal: `script` gives nbatch a pseudo-terminal, and the
 * \x03 we type there becomes SIGINT through the terminal's line discipline,
 * exactly as a keypress would.
 */
function onTerminal(args: string[], env: Record<string, string>, witness?: string) {
  const nbatch = [process.execPath, nbatchBin, ...args];
  const words = witness ? [process.execPath, join(repoRoot, "test/support/hangup-witness.mjs"), witness, ...nbatch] : nbatch;
  const command = words.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], { env: { PATH: process.env.PATH!, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const waitFor = async (text: string, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" on the terminal:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { type: (keys: string) => child.stdin.write(keys), waitFor, exited, output: () => output, kill: () => child.kill("SIGKILL") };
}

describeWithMoto("on a terminal", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ stepDelayMs: 50, runnableDelayMs: 1500 });
  });
  afterAll(() => w?.stop());

  it("one Ctrl-C warns, the second cancels the job, and nbatch exits 130", async () => {
    const dir = await w.makeDir("tty", {});
    const t = onTerminal(["build", "--aws-batch", dir, "--", "sh", "-c", "echo up; sleep 60"], w.env);
    try {
      await t.waitFor("Press Ctrl-C twice to cancel the job");
      await t.waitFor("] up");
      t.type("\x03");
      await t.waitFor("Press Ctrl-C again within 10 seconds");
      expect(w.executor.requests.some((r) => r.operation === "TerminateJob")).toBe(false);
      t.type("\x03");
      await t.waitFor("Cancelling job");
      expect(await t.exited).toBe(130);
      expect(t.output()).toMatch(/Job FAILED/);
      expect(w.executor.requests.some((r) => r.operation === "TerminateJob")).toBe(true);
    } finally {
      t.kill();
    }
  });

  it("closing the terminal detaches: the re-attach line, exit 0 and no stack, on every Node line", async () => {
    const dir = await w.makeDir("hangup", {});
    const witness = join(dir, "..", "hangup-result.json");
    const t = onTerminal(["build", "--aws-batch", dir, "--", "sh", "-c", "echo up; sleep 60"], w.env, witness);
    await t.waitFor("] up");
    // Killing `script` closes the terminal's master side: the kernel hangs up on nbatch.
    t.kill();
    await expect.poll(() => readFile(witness, "utf8").catch(() => ""), { timeout: 20_000 }).not.toBe("");
    const ended = JSON.parse(await readFile(witness, "utf8")) as { code: number | null; signal: string | null; stderr: string };
    expect(ended.stderr).toContain("Detached; job");
    expect(ended.stderr).toContain("Re-attach with:");
    expect(ended.stderr).not.toMatch(/Assertion|ResetStdio|at .*\.js:\d+/);
    expect(ended).toMatchObject({ code: 0, signal: null });
  });

  it("draws upload progress and the time spent RUNNABLE in place, on a terminal", async () => {
    const dir = await w.makeDir("progress", {});
    await writeFile(join(dir, "blob.bin"), randomBytes(96 * 1024 * 1024));
    const t = onTerminal(["build", "--aws-batch", dir, "--", "true"], w.env);
    try {
      expect(await t.exited).toBe(0);
      // Each redraw starts with carriage return + erase-line; split the screen into those frames.
      const frames = t.output().split("\r\u001b[K");
      expect(frames.some((f) => /^Uploading {2}\[[#.]{24}\] {2}[\d.]+ MB \/ 101 MB {2}[\d.]+ MB\/s {2}ETA \d+ s {2}reusing 0 files, 0 B/.test(f))).toBe(true);
      expect(frames.some((f) => /^Job status: RUNNABLE for \d s/.test(f))).toBe(true);
    } finally {
      t.kill();
    }
  });
});

import { createCipheriv, createHash } from "node:crypto";
import { watch } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnCli, type CliProcess } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { seededRandom } from "../support/seeded-random.js";
import { startWorld, type World } from "../support/world.js";

const FILES = 300;
const OLD_FILES = 100;
const SIZE = 100_000;
const name = (i: number) => `out/f${String(i).padStart(3, "0")}`;
const old = (i: number) => `old content of file ${i}\n`;

// The job writes the same bytes with the same code: random hex text, so each file is
// inflated in several pieces and a kill is likely to land in the middle of one.
const CONTENT_SOURCE = `(i) => Buffer.from(createCipheriv("aes-128-ctr", createHash("sha256").update("f" + i).digest().subarray(0, 16), Buffer.alloc(16)).update(Buffer.alloc(${SIZE / 2})).toString("hex"))`;
const content: (i: number) => Buffer = (i) =>
  Buffer.from(createCipheriv("aes-128-ctr", createHash("sha256").update("f" + i).digest().subarray(0, 16), Buffer.alloc(16)).update(Buffer.alloc(SIZE / 2)).toString("hex"));
const JOB_SCRIPT = `
import { createCipheriv, createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
const content = ${CONTENT_SOURCE};
mkdirSync("out", { recursive: true });
for (let i = 0; i < ${FILES}; i++) writeFileSync("out/f" + String(i).padStart(3, "0"), content(i));
writeFileSync("edited.txt", "the job's version\\n");
rmSync("deleteme.txt");
rmSync("gone", { recursive: true });
`;
const LOCAL_EDIT = "edited here while the job ran\n";

describeWithMoto("nbatch build: downloads survive kill -9", () => {
  // The kills land at random moments; a failure names the seed that replays them.
  const random = seededRandom();
  const replay = `NBATCH_TEST_SEED=${random.seed}`;
  let w: World;
  let env: Record<string, string>;
  beforeAll(async () => {
    console.log(`crash safety: kill delays from ${replay}`);
    w = await startWorld();
    // Whatever a killed download leaves behind stays inside the world.
    env = { ...w.env, TMPDIR: await w.makeDir("tmp", {}) };
  });
  afterAll(() => w?.stop());

  /** Every local file is as it was or complete; nothing local is ever deleted; the edit is kept. */
  async function expectConsistent(dir: string, when: string): Promise<void> {
    for (let i = 0; i < FILES; i++) {
      const data = await readFile(join(dir, name(i))).catch(() => undefined);
      if (data === undefined) {
        expect(i, `${when}: ${name(i)} is missing`).toBeGreaterThanOrEqual(OLD_FILES);
        continue;
      }
      const ok = data.equals(content(i)) || (i < OLD_FILES && data.toString() === old(i));
      expect(ok, `${when}: ${name(i)} is neither as it was nor complete (${data.length} bytes)`).toBe(true);
    }
    const strays = (await readdir(join(dir, "out"))).filter((n) => !/^f\d{3}$/.test(n) && !n.startsWith(".nbatch-tmp-"));
    expect(strays, when).toEqual([]);
    expect(await readFile(join(dir, "edited.txt"), "utf8"), when).toBe(LOCAL_EDIT);
    expect(await readFile(join(dir, "deleteme.txt"), "utf8"), when).toBe("delete me\n");
    expect(await readFile(join(dir, "gone/inner.txt"), "utf8"), when).toBe("inner\n");
    for (const saved of (await readdir(dir)).filter((n) => n.startsWith("edited.txt.nbatch-"))) {
      expect(await readFile(join(dir, saved), "utf8"), when).toBe("the job's version\n");
    }
  }

  /** kill -9 once the process starts writing into out/ (or it prints `trigger`), after a random delay. */
  async function killWhenWriting(p: CliProcess, dir: string, trigger: string | undefined, maxDelayMs: number): Promise<void> {
    let watcher: ReturnType<typeof watch> | undefined;
    await new Promise<void>((resolve) => {
      watcher = watch(join(dir, "out"), (_event, file) => {
        if (String(file).startsWith(".nbatch-tmp-")) resolve();
      });
      void p.result.finally(resolve);
      if (trigger) void p.waitForOutput(trigger, 40_000).then(resolve, resolve);
    });
    watcher?.close();
    await sleep(random.next() * maxDelayMs);
    p.kill("SIGKILL");
    await p.result;
  }

  it("leaves every file as it was or complete, keeps local edits and deletions, and --attach finishes the job", async () => {
    const files: Record<string, string> = { "make.mjs": JOB_SCRIPT, "edited.txt": "original\n", "deleteme.txt": "delete me\n", "gone/inner.txt": "inner\n" };
    for (let i = 0; i < OLD_FILES; i++) files[name(i)] = old(i);
    const dir = await w.makeDir("crash", files);

    // The job waits until the local edit is made, so the edit is made while it runs.
    const edited = w.gate();
    const build = spawnCli(["build", "--aws-batch", dir, "--", "sh", "-c", `${edited.wait}; node make.mjs`], { env });
    await build.waitForOutput("Job status: RUNNING", 30_000);
    await writeFile(join(dir, "edited.txt"), LOCAL_EDIT);
    await edited.open();
    const jobId = w.executor.jobs().find((j) => j.jobName === w.submits().at(-1).jobName)?.jobId;
    expect(jobId).toBeDefined();
    // First while the results are coming down, then three times while they are being written.
    await killWhenWriting(build, dir, "Job SUCCEEDED", 300);
    await expectConsistent(dir, `killed after the job ended (${replay})`);
    for (const round of [1, 2, 3]) {
      await killWhenWriting(spawnCli(["build", "--attach", jobId!, dir], { env }), dir, undefined, 100 * round);
      await expectConsistent(dir, `killed during download ${round} (${replay})`);
    }

    const r = await spawnCli(["build", "--attach", jobId!, dir], { env }).result;
    expect(r.code, r.stderr).toBe(0);
    await expectConsistent(dir, `after --attach (${replay})`);
    for (let i = 0; i < FILES; i++) expect((await readFile(join(dir, name(i)))).equals(content(i)), name(i)).toBe(true);
    const all = await readdir(dir, { recursive: true });
    expect(all.filter((p) => p.includes(".nbatch-tmp-"))).toEqual([]);
    const saved = all.filter((p) => p.startsWith("edited.txt.nbatch-"));
    expect(saved).toHaveLength(1);
    expect(r.stderr).toContain(`edited.txt was edited locally while the job ran: kept it, saved the job's version as ${saved[0]}`);
    expect(r.stderr).toMatch(/The job deleted 2 paths .*local copies are kept/);
  });
});

import { mkdtemp, readFile, rm, stat, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, writeTree, type World } from "../support/world.js";

const seconds = (iso: string) => Date.parse(iso) / 1000;
const IN_TIME = seconds("2024-01-01T00:00:00Z");
const OLD_INPUT = seconds("1960-06-15T12:00:00Z");

/**
 * out.txt is older than in.txt, so make rebuilds it, to the same bytes. The
 * job also touches one file, chmods another, reads an input from before
 * 1970 and makes a file and a directory dated before 1970.
 */
const FIRST_RUN = [
  "make",
  "touch -d 2022-02-02T00:00:00Z touched.txt",
  "chmod 600 mode.txt",
  "stat -c %Y old-in.txt > seen-old.txt",
  ": > made-old.txt && touch -d 1955-03-04T00:00:00Z made-old.txt",
  "mkdir old-dir && touch -d 1950-01-01T00:00:00Z old-dir",
].join(" && ");

async function makeTree(dir: string): Promise<void> {
  await writeTree(dir, {
    Makefile: "out.txt: in.txt\n\tcp in.txt out.txt\n",
    "in.txt": "data\n",
    "out.txt": "data\n",
    "touched.txt": "same\n",
    "mode.txt": "same\n",
    "old-in.txt": "old\n",
  });
  await utimes(join(dir, "in.txt"), IN_TIME, IN_TIME);
  for (const name of ["out.txt", "touched.txt"]) await utimes(join(dir, name), seconds("2020-01-01T00:00:00Z"), seconds("2020-01-01T00:00:00Z"));
  await utimes(join(dir, "old-in.txt"), new Date(OLD_INPUT * 1000), new Date(OLD_INPUT * 1000));
}

const mtime = async (path: string) => (await stat(path)).mtimeMs / 1000;

/** The same round trip on either runner: run(dir, shell command) runs `sh -c command` over dir. */
async function expectChangesTravel(dir: string, run: (dir: string, command: string) => Promise<CliResult>): Promise<void> {
  await makeTree(dir);
  const first = await run(dir, FIRST_RUN);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toContain("cp in.txt out.txt");
  // Rebuilt to the same bytes: its new time comes back, so it is newer than its source here too.
  expect(await mtime(join(dir, "out.txt"))).toBeGreaterThan(IN_TIME);
  expect(await mtime(join(dir, "touched.txt"))).toBe(seconds("2022-02-02T00:00:00Z"));
  expect((await stat(join(dir, "mode.txt"))).mode & 0o777).toBe(0o600);
  expect(first.stderr).toMatch(/Results: .*3 given the job's time or mode only/);
  // Before 1970, both ways: an input as the job saw it, and what the job made.
  expect(Number(await readFile(join(dir, "seen-old.txt"), "utf8"))).toBe(OLD_INPUT);
  expect(await mtime(join(dir, "made-old.txt"))).toBe(seconds("1955-03-04T00:00:00Z"));
  expect(await mtime(join(dir, "old-dir"))).toBe(seconds("1950-01-01T00:00:00Z"));
  expect(await mtime(join(dir, "old-in.txt"))).toBe(OLD_INPUT);

  // make now finds out.txt up to date, in the job as here.
  const second = await run(dir, "make");
  expect(second.code, second.stderr).toBe(0);
  expect(second.stdout).toMatch(/'out\.txt' is up to date/);
  expect(second.stdout).not.toContain("cp in.txt out.txt");
}

describeWithMoto("time-only and mode-only changes come back, on AWS Batch", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("brings back what make, touch and chmod did to files whose bytes stayed the same, and times before 1970", async () => {
    const dir = await w.makeDir("times", {});
    await expectChangesTravel(dir, (d, command) => w.nbatch(["build", "--aws-batch", d, "--", "sh", "-c", command]));
  });
});

describe("time-only and mode-only changes come back, with the local runner", () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "nbatch-times-"));
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it("brings back what make, touch and chmod did to files whose bytes stayed the same, and times before 1970", async () => {
    await expectChangesTravel(join(home, "times"), (d, command) => runCli(["build", "--local", d, "--", "sh", "-c", command], { env: { HOME: home } }));
  });
});

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

/**
 * What a job leaves that cannot be taken: each case costs its own path only.
 * The script makes one of each, then exits 0, leaving a process behind that
 * keeps creating and deleting files while the agent scans and packs.
 */
const LONG = "d".repeat(200);
const AWKWARD = [
  "mkdir -p out churn",
  "echo result > out/result.txt",
  // A name that is not UTF-8, and one with a backslash.
  `: > "out/$(printf 'bad\\377name')"`,
  `: > 'out/back\\slash'`,
  // A path longer than the system allows (4,096 bytes), made one directory at a time (a shell's cd would refuse).
  `perl -e 'for (1..22) { mkdir "${LONG}" or die; chdir "${LONG}" or die } open(F, ">deep.txt") or die'`,
  // Files appearing and vanishing while the agent works, as a temp-file cleaner would make them.
  "(i=0; while :; do : > churn/f$i; rm -f churn/f$((i-1)); i=$((i+1)); done) &",
  "sleep 0.2",
  "echo made",
].join("\n");

/** Only a non-root job can be refused a read: the same script, plus a file and a directory it cannot read. */
const UNREADABLE = ["mkdir -p out/private", "echo secret > out/private/x", "chmod 000 out/private", "echo no > out/locked.txt", "chmod 000 out/locked.txt"].join("\n");

function expectEachLeftOut(stderr: string, unreadable: boolean): void {
  expect(stderr).toMatch(/could not send back out\/bad\\xffname: its name is not valid UTF-8/);
  expect(stderr).toMatch(/could not send back out\/back\\slash: its name contains a backslash/);
  expect(stderr).toMatch(/could not send back d{80}…d{60}: its path is longer than the system allows/);
  if (unreadable) {
    expect(stderr).toMatch(/could not send back out\/private: permission denied/);
    expect(stderr).toMatch(/could not send back out\/locked\.txt: permission denied/);
  }
  // The churner, and now and then the rm it has just started.
  expect(stderr).toMatch(/the command left (1 process|2 processes) running when it exited \(\/bin\/sh \.\/make\.sh[;)]/);
}

describeWithMoto("the agent takes what it can from the job's directory", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    // A non-root image, as many are: the job runs as nobody.
    await w.executor.registerJobDefinition({
      jobDefinitionName: "nonroot-job",
      type: "container",
      containerProperties: { image: "nbatch-test", user: "nobody", command: ["true"] },
    });
  });
  afterAll(() => w?.stop());

  it.skipIf(process.getuid?.() !== 0)("on AWS Batch: skips each path it cannot take, brings back the rest, and the job succeeds", async () => {
    const dir = await w.makeDir("awkward", { "make.sh": { text: `#!/bin/sh\n${AWKWARD}\n${UNREADABLE}\n`, mode: 0o755 } });
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "nonroot-job", dir, "--", "./make.sh"]);
    expect(r.stderr).toMatch(/Job SUCCEEDED after .* \(exited 0\)/);
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "out/result.txt"), "utf8")).toBe("result\n");
    expectEachLeftOut(r.stderr, true);
    // The agent says the same in the job's own log.
    expect(r.stdout).toMatch(/nbatch agent: left out\/locked\.txt out of the results: permission denied/);
  });
});

describe("the agent takes what it can, on this machine", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "nbatch-agent-results-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("skips each path it cannot take, brings back the rest, and exits with the command's status", async () => {
    const work = join(dir, "wf");
    await mkdir(work);
    await writeFile(join(work, "make.sh"), `#!/bin/sh\n${AWKWARD}\n`, { mode: 0o755 });
    const r = await runCli(["build", "--local", work, "--", "./make.sh"], { env: { HOME: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(work, "out/result.txt"), "utf8")).toBe("result\n");
    expectEachLeftOut(r.stderr, false);
  });
});

describeWithMoto("input names that cannot travel", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("are left out with a warning, the same rule as the agent's, also with --dry-run", async () => {
    const dir = await w.makeDir("names", { "ok.txt": "fine\n", "back\\slash.txt": "b\n" });
    await writeFile(Buffer.concat([Buffer.from(dir + "/"), Buffer.from([0x62, 0xff, 0x2e, 0x74])]), "raw");
    const dry = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "ls"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toMatch(/not uploading b\\xff\.t: its name is not valid UTF-8/);
    expect(dry.stderr).toMatch(/not uploading back\\slash\.txt: its name contains a backslash/);
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "ls > listing.txt"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/refused|internal error/);
    const listing = await readFile(join(dir, "listing.txt"), "utf8");
    expect(listing).toContain("ok.txt");
    expect(listing).not.toContain("slash");
  });
});

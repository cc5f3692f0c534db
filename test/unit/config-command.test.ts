import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { readConfigFile } from "../../src/config/file.js";
import { setKey, unsetKey } from "../../src/config/ini-edit.js";
import { createTestOutput, testContext } from "../support/io.js";

describe("setKey and unsetKey", () => {
  const file = ["; my settings", "[core]", "runner = local  ; for now", "", "# the lab account", "[aws-batch]", "queue = a", "", "[other]", "x = 1", ""].join("\n");

  it("rewrites the key in place and keeps every other line", () => {
    expect(setKey(file, "aws-batch", "queue", "b")).toBe(file.replace("queue = a", "queue = b"));
  });

  it("adds a missing key at the end of its section, and a missing section at the end", () => {
    expect(setKey(file, "aws-batch", "job", "j")).toBe(file.replace("queue = a\n", "queue = a\njob = j\n"));
    expect(setKey("[core]\nrunner = local\n", "aws-batch", "queue", "q")).toBe("[core]\nrunner = local\n\n[aws-batch]\nqueue = q\n");
    expect(setKey("", "aws-batch", "queue", "q")).toBe("[aws-batch]\nqueue = q\n");
  });

  it("changes the last of duplicate keys, the one ini reads, and keeps CRLF files CRLF", () => {
    expect(setKey("[a]\nk = 1\n[a]\nk = 2\n", "a", "k", "3")).toBe("[a]\nk = 1\n[a]\nk = 3\n");
    expect(setKey("[a]\r\nk = 1\r\n", "a", "k", "2")).toBe("[a]\r\nk = 2\r\n");
  });

  it("removes every line of the key, and says when there was none", () => {
    expect(unsetKey("[a]\nk = 1\nj = 0\n[a]\nk = 2\n", "a", "k")).toBe("[a]\nj = 0\n[a]\n");
    expect(unsetKey(file, "aws-batch", "job")).toBeUndefined();
    expect(unsetKey(file, "core", "queue")).toBeUndefined();
  });

  it("writes values the ini reader gives back unchanged", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nbatch-ini-"));
    try {
      for (const value of ['node "/opt/a b/x.js" agent ; x # y', '["nbatch", "agent"]', "s3://b/p=q", '"quoted"']) {
        await writeFile(join(dir, "c"), setKey("", "aws-batch", "agent-command", value));
        expect(readConfigFile(join(dir, "c"))?.["aws-batch"]?.["agent-command"]).toBe(value);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("nbatch config", () => {
  let dir: string;
  let path: string;
  const run = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const io = createTestOutput();
    const code = await main(["config", ...args], testContext({ HOME: dir, NBATCH_CONFIG: path, ...extraEnv }, { out: io }));
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nbatch-config-"));
    path = join(dir, "nbatch", "config");
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("set creates the file, get reads it back, unset removes it", async () => {
    expect(await run(["set", "aws-batch.s3-bucket", "s3://lab/jobs"])).toMatchObject({ code: 0, stderr: "Set aws-batch.s3-bucket = s3://lab/jobs in ~/nbatch/config\n" });
    expect(await readFile(path, "utf8")).toBe("[aws-batch]\ns3-bucket = s3://lab/jobs\n");
    expect(await run(["get", "aws-batch.s3-bucket"])).toMatchObject({ code: 0, stdout: "s3://lab/jobs\n" });
    expect((await run(["unset", "aws-batch.s3-bucket"])).code).toBe(0);
    expect(await readFile(path, "utf8")).toBe("[aws-batch]\n");
    expect(await run(["get", "aws-batch.s3-bucket"])).toMatchObject({ code: 1, stdout: "" });
    expect((await run(["unset", "aws-batch.s3-bucket"])).stderr).toMatch(/is not set in .*; nothing to do/);
  });

  it("refuses an invalid value or an unknown key, leaving the file alone", async () => {
    await run(["set", "aws-batch.memory", "8GiB"]);
    const bad = await run(["set", "aws-batch.memory", "lots"]);
    expect(bad).toMatchObject({ code: 2, stderr: 'nbatch: error: invalid memory "lots": use a size such as 15GiB, 7200MB or 4096 (MiB)\n' });
    expect(await run(["set", "aws-batch.colour", "red"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/'aws-batch.colour' is invalid .* Allowed choices are core.runner, aws-batch.job, /) });
    expect(await run(["set", "build.command", "two\nlines"])).toMatchObject({
      code: 2,
      stderr: "nbatch: error: the value for build.command holds a line break or NUL byte, which a config file line cannot: give it on one line\n",
    });
    expect(await readFile(path, "utf8")).toBe("[aws-batch]\nmemory = 8GiB\n");
  });

  it("writes atomically, keeping the file's mode and a symlink to it", async () => {
    const real = join(dir, "dotfiles-config");
    await writeFile(real, "[core]\nrunner = local\n");
    await chmod(real, 0o640);
    await mkdir(join(dir, "nbatch"));
    await symlink(real, path);
    expect((await run(["set", "core.runner", "aws-batch"])).code).toBe(0);
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, "utf8")).toBe("[core]\nrunner = aws-batch\n");
    expect((await stat(real)).mode & 0o777).toBe(0o640);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect((await readdir(join(dir, "nbatch")))).toEqual(["config"]);
  });

  it("warns when an environment variable overrides what was set", async () => {
    const r = await run(["set", "aws-batch.queue", "q"], { NBATCH_AWS_BATCH_QUEUE: "other" });
    expect(r.stderr).toContain("warning: NBATCH_AWS_BATCH_QUEUE is set in your environment and takes precedence over the config file");
  });

  it("list shows effective values; --show-origin says where each comes from", async () => {
    await run(["set", "aws-batch.queue", "file-queue"]);
    const env = { NBATCH_AWS_BATCH_JOB: "env-job" };
    const plain = await run(["list"], env);
    expect(plain.stdout.split("\n")).toEqual(expect.arrayContaining(["core.runner=local", "aws-batch.job=env-job", "aws-batch.queue=file-queue"]));
    expect(plain.stdout).not.toContain("aws-batch.cpus");
    const origin = await run(["list", "--show-origin", "--aws-batch-memory", "2GiB"], env);
    const lines = origin.stdout.split("\n").map((l) => l.replace(/ {2,}/, " | "));
    expect(lines).toEqual(
      expect.arrayContaining([
        "default | core.runner=local",
        "env NBATCH_AWS_BATCH_JOB | aws-batch.job=env-job",
        "file ~/nbatch/config | aws-batch.queue=file-queue",
        "flag --aws-batch-memory | aws-batch.memory=2GiB",
        "unset | aws-batch.cpus (not set: the job definition's)",
      ]),
    );
  });

  it("list --show-origin includes the AWS region and profile, and where each comes from", async () => {
    await mkdir(join(dir, ".aws"));
    await writeFile(join(dir, ".aws", "config"), "[profile lab]\nregion = eu-central-1\n");
    const shown = async (args: string[], env: Record<string, string>) =>
      (await run(["list", "--show-origin", ...args], env)).stdout.split("\n").filter((l) => l.includes(" aws.")).map((l) => l.replace(/ {2,}/, " | "));
    expect(await shown([], {})).toEqual(["default | aws.region=us-east-1", "unset | aws.profile (not set: the default profile, or the SDK's credential chain)"]);
    expect(await shown([], { AWS_PROFILE: "lab" })).toEqual(["profile lab | aws.region=eu-central-1", "env AWS_PROFILE | aws.profile=lab"]);
    expect(await shown(["--aws-region", "ap-south-1", "--aws-profile", "lab"], { AWS_DEFAULT_REGION: "us-west-2" })).toEqual(["flag --aws-region | aws.region=ap-south-1", "flag --aws-profile | aws.profile=lab"]);
    expect(await shown([], { AWS_REGION: "us-west-2" })).toEqual(["env AWS_REGION | aws.region=us-west-2", expect.stringMatching(/^unset \| aws.profile/)]);
    expect((await run(["list"], { AWS_PROFILE: "lab" })).stdout).toContain("aws.region=eu-central-1\naws.profile=lab\n");
  });

  it("list and get report an invalid value with where it came from", async () => {
    const stderr = 'nbatch: error: invalid vCPU count "many" (from NBATCH_AWS_BATCH_CPUS): use a positive number such as 4 or 0.25\n';
    expect(await run(["list"], { NBATCH_AWS_BATCH_CPUS: "many" })).toMatchObject({ code: 1, stderr });
    expect(await run(["get", "aws-batch.cpus"], { NBATCH_AWS_BATCH_CPUS: "many" })).toMatchObject({ code: 1, stderr });
  });
});

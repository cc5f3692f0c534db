import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "../support/cli.js";
import { readEnvDump, writeTree, type TreeFiles } from "../support/world.js";

/**
 * The embedded default runner needs no AWS at all, so these tests run
 * without moto too: the built binary, a HOME of its own and a private TMPDIR.
 */
describe("nbatch build on this machine (the embedded default)", () => {
  let root: string;
  let env: Record<string, string>;
  let tmp: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "nbatch-local-e2e-"));
    tmp = join(root, "tmp");
    await mkdir(tmp);
    env = { HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "home", ".config"), TMPDIR: tmp };
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const makeDir = async (name: string, files: TreeFiles) => {
    const dir = join(root, name);
    await writeTree(dir, files);
    return dir;
  };
  const nbatch = (args: string[], extraEnv: Record<string, string> = {}) => runCli(args, { env: { ...env, ...extraEnv } });
  const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

  it("gives the command this shell's environment plus the job protocol's variables, and nothing else", async () => {
    const dir = await makeDir("env", {});
    // A user's AWS setup (credentials, endpoints) reaches a local command, as it would if it ran here.
    const shell = { ...env, PATH: process.env.PATH!, AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_PROFILE: "lab" };
    const r = await runCli(["build", "--local", dir, "--", "sh", "-c", "env -0 > env.bin"], { env: shell });
    expect(r.code, r.stderr).toBe(0);
    // Apart from what the shell adds, exactly what nbatch means to give.
    const seen = await readEnvDump(join(dir, "env.bin"));
    const added = Object.keys(seen).filter((k) => !(k in shell)).sort();
    expect(added).toEqual(["NBATCH_CPUS", "NBATCH_INPUTS_URL", "NBATCH_MEMORY_MIB", "NBATCH_PROTOCOL", "NBATCH_RESULTS_URL", "NBATCH_RUN_ID"]);
    for (const [name, value] of Object.entries(shell)) expect(seen[name], name).toBe(value);
    // What the command was given: this machine, unless vCPUs or memory were asked for.
    expect(seen.NBATCH_CPUS).toBe(String(availableParallelism()));
    expect(seen.NBATCH_MEMORY_MIB).toBe(String(Math.floor(totalmem() / 2 ** 20)));
    const asked = await runCli(["build", "--local", "--aws-batch-cpus", "3", dir, "--", "sh", "-c", "env -0 > env.bin"], { env: { ...shell, NBATCH_AWS_BATCH_MEMORY: "2GiB" } });
    expect(asked.code, asked.stderr).toBe(0);
    expect(await readEnvDump(join(dir, "env.bin"))).toMatchObject({ NBATCH_CPUS: "3", NBATCH_MEMORY_MIB: "2048" });
    expect(Object.keys(seen).filter((k) => k.startsWith("AWS_SDK"))).toEqual([]);
  });

  it("runs the command on a copy and brings back its results with their modes and mtimes", async () => {
    const dir = await makeDir("ok", {
      "input.txt": "alpha\nbeta\n",
      "run.sh": {
        mode: 0o755,
        text: [
          "#!/bin/sh",
          "mkdir -p out",
          "sort -r input.txt > out/sorted.txt",
          "chmod 640 out/sorted.txt",
          "touch -d @1000000000 out/sorted.txt",
          "printf '#!/bin/sh\\necho tool\\n' > out/tool",
          "chmod 755 out/tool",
          "echo done sorting",
          "",
        ].join("\n"),
      },
    });
    const inputBefore = await stat(join(dir, "input.txt"));
    const r = await nbatch(["build", dir, "--", "./run.sh"]);
    expect(r.stderr).toMatch(/^Results: 2 files written/m);
    expect(r.stdout).toContain("done sorting");
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "out/sorted.txt"), "utf8")).toBe("beta\nalpha\n");
    expect(await modeOf(join(dir, "out/sorted.txt"))).toBe(0o640);
    expect((await stat(join(dir, "out/sorted.txt"))).mtimeMs).toBe(1_000_000_000_000);
    expect(await modeOf(join(dir, "out/tool"))).toBe(0o755);
    // Unchanged inputs are not written back.
    expect((await stat(join(dir, "input.txt"))).mtimeMs).toBe(inputBefore.mtimeMs);
    // Its temporary directory is gone.
    expect(await readdir(tmp)).toEqual([]);
  });

  it("says once that it ran here when AWS Batch is set up but no runner was chosen, and how to choose", async () => {
    const dir = await makeDir("unchosen", {});
    const note =
      "Running on this machine: no runner was chosen, although AWS Batch is set up (aws-batch.s3-bucket from ~/.config/nbatch/config). " +
      "Add --aws-batch to run there, or make it the default: nbatch config set core.runner aws-batch";
    await writeTree(join(env.XDG_CONFIG_HOME!, "nbatch"), { config: "[aws-batch]\ns3-bucket = s3://lab/jobs\n" });
    try {
      const r = await nbatch(["build", dir, "--", "true"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split("\n").filter((l) => l === note)).toHaveLength(1);
      expect((await nbatch(["build", "--local", dir, "--", "true"])).stderr).not.toContain("Running on this machine");
      expect((await nbatch(["build", dir, "--", "true"], { NBATCH_CORE_RUNNER: "local" })).stderr).not.toContain("Running on this machine");
    } finally {
      await rm(join(env.XDG_CONFIG_HOME!, "nbatch"), { recursive: true, force: true });
    }
    expect((await nbatch(["build", dir, "--", "true"])).stderr).not.toContain("Running on this machine");
  });

  it("with -v, lists each file that came back, was up to date or not selected, and how long each stage took", async () => {
    const dir = await makeDir("verbose", { "same.txt": "same\n" });
    const job = "echo new > new.txt; echo same > same.tmp && mv same.tmp same.txt; echo skip > skip.log; mkdir -p sub; echo s > sub/s.txt";
    const r = await nbatch(["-v", "build", "--exclude-from-download", "*.log", dir, "--", "sh", "-c", job]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n");
    expect(lines).toEqual(expect.arrayContaining(["  wrote new.txt", "  wrote sub/s.txt", "  not selected skip.log"]));
    expect(lines.some((l) => ["  already up to date same.txt", "  wrote same.txt", "  updated the time or mode of same.txt"].includes(l))).toBe(true);
    expect(lines).not.toContain("  wrote sub");
    expect(lines).toContainEqual(expect.stringMatching(/^Took: pack \d+\.\d s, run \d+\.\d s, unpack \d+\.\d s$/));
    // Without -v, none of it.
    const quiet = await nbatch(["build", dir, "--", "sh", "-c", "echo again > new.txt"]);
    expect(quiet.stderr).not.toMatch(/^ {2}wrote |^Took: /m);
  });

  it("exits with the command's status and still brings back its partial results", async () => {
    const dir = await makeDir("fails", {});
    const r = await nbatch(["build", dir, "--", "sh", "-c", "echo half > partial.txt; echo failing >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("failing");
    expect(await readFile(join(dir, "partial.txt"), "utf8")).toBe("half\n");
  });

  it("an agent that dies before uploading is one clear line, its status, and an untouched directory", async () => {
    const dir = await makeDir("agent-killed", { "keep.txt": "mine\n" });
    const r = await nbatch(["build", "--local", dir, "--", "sh", "-c", "echo changed > keep.txt; kill -9 $PPID"]);
    expect(r.code).toBe(137);
    expect(r.stderr).toContain(`nbatch: error: the job ended (killed by SIGKILL) without results: nothing in ${dir} was changed`);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(await readFile(join(dir, "keep.txt"), "utf8")).toBe("mine\n");
  });

  it("delivers --env values, given or taken from the shell", async () => {
    const dir = await makeDir("env", {});
    const r = await nbatch(
      ["build", "--local", "--env", "TOKEN=hunter2", "--env", "FROM_SHELL", dir, "--", "sh", "-c", 'echo "$TOKEN $FROM_SHELL" > seen.txt'],
      { FROM_SHELL: "shell-value" },
    );
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "seen.txt"), "utf8")).toBe("hunter2 shell-value\n");
  });

  it("delivers --envdir files as variables: the file's name and contents, less one newline; --env wins", async () => {
    const dir = await makeDir("envdir-run", {});
    const envdir = await makeDir("envdir", { TOKEN: "from-file\n", PEM: "line 1\nline 2\n\n", SHADOWED: "file", ".DS_Store": "junk" });
    const r = await nbatch(["build", "--envdir", envdir, "--env", "SHADOWED=flag", dir, "--", "sh", "-c", 'printf "%s|%s|%s|%s" "$TOKEN" "$PEM" "$SHADOWED" "${_DS_Store-unset}" > seen.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, "seen.txt"), "utf8")).toBe("from-file|line 1\nline 2\n|flag|unset");
    const bad = await makeDir("envdir-bad", { "my-key": "x" });
    expect(await nbatch(["build", "--envdir", bad, dir, "--", "true"])).toMatchObject({
      code: 2,
      stderr: `nbatch: error: --envdir ${bad}: "my-key" is not a valid variable name (letters, digits and _, not starting with a digit): rename it, or move it out\n`,
    });
    expect((await nbatch(["build", "--envdir", join(root, "none"), dir, "--", "true"])).stderr).toBe(`nbatch: error: --envdir ${join(root, "none")}: no such directory\n`);
    // What no environment value can carry is refused before anything runs.
    for (const [bytes, why] of [[Buffer.from("a\0b"), "holds a NUL byte"], [Buffer.from([0x61, 0xff]), "is not UTF-8 text"]] as const) {
      const odd = await makeDir(`envdir-${why.length}`, {});
      await writeFile(join(odd, "ODD"), bytes);
      const r = await nbatch(["build", "--envdir", odd, dir, "--", "touch", "ran"]);
      expect(r).toMatchObject({ code: 2 });
      expect(r.stderr).toMatch(new RegExp(`^nbatch: error: --envdir ${odd}: ODD ${why}, .*\n$`));
      expect(existsSync(join(dir, "ran"))).toBe(false);
    }
  });

  it("says so in one line when the directory is removed while the command runs", async () => {
    const dir = await makeDir("removed-meanwhile", { "a.txt": "a" });
    const r = await nbatch(["build", dir, "--", "sh", "-c", `rm -rf '${dir}'; echo r > r.txt`]);
    expect(r).toMatchObject({ code: 1 });
    expect(r.stderr).toMatch(new RegExp(`\nnbatch: error: ${dir} was removed while the command ran: there is nowhere to bring its results back to\n$`));
  });

  it("hides excluded files from the command: secrets, .git/, caches and --exclude-from-upload", async () => {
    const dir = await makeDir("exclusions", {
      ".env": "SECRET=1",
      ".env.production": "SECRET=2",
      ".npmrc": "//registry/:_authToken=t",
      "tls.key": "PRIVATE",
      ".git/config": "[core]",
      "__pycache__/m.cpython-312.pyc": "x",
      "pkg/helper.pyc": "x",
      ".snakemake/log/run.log": "kept",
      ".snakemake/tmp/scratch": "dropped",
      "data/huge.bin": "big",
      "environment.yaml": "name: conda-env",
      "keep.txt": "kept",
    });
    const r = await nbatch(["build", "--local", "--exclude-from-upload", "data/", dir, "--", "sh", "-c", "find . -type f ! -name seen.txt | sort > seen.txt; echo job > made.pem"]);
    expect(r.code).toBe(0);
    expect((await readFile(join(dir, "seen.txt"), "utf8")).trim().split("\n")).toEqual([
      "./.snakemake/log/run.log",
      "./environment.yaml",
      "./keep.txt",
    ]);
    // Nothing excluded was touched locally.
    expect(await readFile(join(dir, ".env"), "utf8")).toBe("SECRET=1");
    expect(await readFile(join(dir, "data/huge.bin"), "utf8")).toBe("big");
    // The agent leaves out of the results what uploads leave out.
    await expect(readFile(join(dir, "made.pem"))).rejects.toThrow(/ENOENT/);
  });

  it("brings back what Snakemake's storage fetched in the job, but never uploads a local .snakemake/storage/", async () => {
    const dir = await makeDir("snakemake-storage", { ".snakemake/storage/http/local.txt": "laptop's", ".snakemake/log/old.log": "log" });
    const job = [
      "test -e .snakemake/storage/http/local.txt && echo uploaded > leaked.txt",
      "mkdir -p .snakemake/storage/s3/bucket .snakemake/tmp",
      "echo fetched > .snakemake/storage/s3/bucket/data.csv",
      "echo scratch > .snakemake/tmp/scratch",
    ].join("; ");
    const r = await nbatch(["build", dir, "--", "sh", "-c", job]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, ".snakemake/storage/s3/bucket/data.csv"), "utf8")).toBe("fetched\n");
    expect(await readdir(dir)).not.toContain("leaked.txt");
    expect(await readdir(join(dir, ".snakemake"))).not.toContain("tmp");
  });

  it("runs examples/hello, on a copy of it, with the command its nbatch.ini names", async () => {
    const example = join(repoRoot, "examples", "hello");
    const before = await readdir(example, { recursive: true });
    const dir = join(root, "hello");
    await cp(example, dir, { recursive: true, filter: (src) => !src.startsWith(join(example, "out")) });
    const r = await nbatch(["build", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("greeted 3 names");
    expect(await readFile(join(dir, "out/greetings.txt"), "utf8")).toBe("Hello, Ada!\nHello, Grace!\nHello, Rosalind!\n");
    expect(await modeOf(join(dir, "out/show.sh"))).toBe(0o755);
    expect(await readdir(example, { recursive: true })).toEqual(before);
  });
});

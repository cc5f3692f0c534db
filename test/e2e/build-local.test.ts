import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
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
    expect(added).toEqual(["NBATCH_INPUTS_URL", "NBATCH_PROTOCOL", "NBATCH_RESULTS_URL", "NBATCH_RUN_ID"]);
    for (const [name, value] of Object.entries(shell)) expect(seen[name], name).toBe(value);
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

  it("runs examples/hello, on a copy of it", async () => {
    const example = join(repoRoot, "examples", "hello");
    const before = await readdir(example, { recursive: true });
    const dir = join(root, "hello");
    await cp(example, dir, { recursive: true, filter: (src) => !src.startsWith(join(example, "out")) });
    const r = await nbatch(["build", dir, "--", "./hello.sh"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("greeted 3 names");
    expect(await readFile(join(dir, "out/greetings.txt"), "utf8")).toBe("Hello, Ada!\nHello, Grace!\nHello, Rosalind!\n");
    expect(await modeOf(join(dir, "out/show.sh"))).toBe(0o755);
    expect(await readdir(example, { recursive: true })).toEqual(before);
  });
});

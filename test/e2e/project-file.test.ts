import { mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, writeTree, type TreeFiles, type World } from "../support/world.js";

const envOf = (submit: any, name: string): string | undefined =>
  submit.containerOverrides.environment.find((e: { name: string }) => e.name === name)?.value;

describe("the project file, nbatch.ini, on this machine", () => {
  let root: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "nbatch-project-"));
    env = { HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "home", ".config"), TMPDIR: tmpdir() };
  });
  afterAll(() => rm(root, { recursive: true, force: true }));
  const makeDir = async (name: string, files: TreeFiles) => {
    const dir = join(root, name);
    await writeTree(dir, files);
    return dir;
  };
  const nbatch = (args: string[], o: { cwd?: string; env?: Record<string, string> } = {}) => runCli(args, { env: { ...env, ...o.env }, cwd: o.cwd });

  it("says how to give a command when there is none from anywhere", async () => {
    const dir = await makeDir("no-command", { "a.txt": "a" });
    const r = await nbatch(["build", dir]);
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toBe(`nbatch: error: no command to run: give it after -- (nbatch build ${dir} -- make), or put "command = make" under [build] in ${dir}/nbatch.ini\n`);
  });

  it("takes the command, what travels and what comes back from the file; -- and flags beat it, and it travels itself", async () => {
    const ini = [
      "[build]",
      "command = sh -c 'mkdir -p results logs; echo r > results/r.txt; echo l > logs/l.txt; echo o > other.txt'",
      "exclude-from-upload = data/",
      "download = results/ logs/",
      "exclude-from-download = logs/",
    ].join("\n");
    const files = { "nbatch.ini": ini, "data/big.bin": "big", "keep.txt": "k" };
    const dir = await makeDir("from-file", files);
    const r = await nbatch(["build", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, "results/r.txt"), "utf8")).toBe("r\n");
    expect((await readdir(dir)).sort()).toEqual(["data", "keep.txt", "nbatch.ini", "results"]);

    // The command after --, and --download, replace the file's; --exclude-from-upload adds to its exclusions.
    const flags = await makeDir("flags-beat-it", files);
    const again = await nbatch(["build", "--download", "seen.txt", "--exclude-from-upload", "keep.txt", flags, "--", "sh", "-c", "ls -A > seen.txt; echo o > other.txt"]);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(flags, "seen.txt"), "utf8")).toBe("nbatch.ini\nseen.txt\n");
    expect(await readdir(flags)).not.toContain("other.txt");
  });

  it("leaves out what .nbatchignore says, after the built-in exclusions and before the flag's; --dry-run lists each with its rule", async () => {
    const ignore = ["# big things the workflow fetches or makes in the job", "data/", "", "*.bam", "!keep.bam", "results/"].join("\n");
    const dir = await makeDir("ignored", { ".nbatchignore": ignore, "data/raw.fa": ">x", "a.bam": "b", "keep.bam": "k", "results/old.txt": "o", "notes.txt": "n", ".env": "SECRET=1" });
    const dry = await nbatch(["build", "--dry-run", "--exclude-from-upload", "notes.txt", dir, "--", "make"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr.split("\n")).toEqual([
      `Would pack ${dir} (2 files, ${ignore.length + 1} B)`,
      "Excluded (5):",
      "  .env  (default: .env)",
      "  a.bam  (.nbatchignore:4: *.bam)",
      "  data  (.nbatchignore:2: data/)",
      "  notes.txt  (notes.txt)",
      "  results  (.nbatchignore:6: results/)",
      "Would run make on a copy of it",
      "",
    ]);
    const r = await nbatch(["-v", "build", dir, "--", "sh", "-c", "find . -type f ! -name seen.txt | sort > seen.txt"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("  data  (.nbatchignore:2: data/)\n");
    expect((await readFile(join(dir, "seen.txt"), "utf8")).split("\n")).toEqual(["./.nbatchignore", "./keep.bam", "./notes.txt", ""]);
  });

  it("cannot send the runner's secrets: a project's ! does not re-include a built-in exclusion, the user's own does", async () => {
    const files = { ".nbatchignore": "!.env\n!.aws/\n!id_ed25519\n", "nbatch.ini": "[build]\nexclude-from-upload = !.npmrc\n", ".env": "SECRET=1", ".aws/credentials": "key", id_ed25519: "k", ".npmrc": "t", "a.txt": "a" };
    const dir = await makeDir("secrets", files);
    const dry = await nbatch(["build", "--dry-run", dir, "--", "make"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain("Excluded (4):\n  .aws  (default: .aws/)\n  .env  (default: .env)\n  .npmrc  (default: .npmrc)\n  id_ed25519  (default: id_ed25519)\n");
    // Sent on purpose, by whoever runs nbatch.
    const mine = await nbatch(["build", "--dry-run", "--exclude-from-upload", "!.env", dir, "--", "make"]);
    expect(mine.stderr).toContain("Excluded (3):\n  .aws  (default: .aws/)\n  .npmrc");
  });

  it("runs the command in --workdir, or the file's workdir, and brings results back relative to the whole tree", async () => {
    const files = { "shared/rules.smk": "r", "pathogen/Snakefile": "s", "data/big": "b", ".nbatchignore": "data/\n" };
    const dir = await makeDir("monorepo", files);
    const job = ["sh", "-c", "pwd > where.txt; ls > here.txt; echo top > ../top.txt"];
    const r = await nbatch(["build", "--workdir", "./pathogen/", dir, "--", ...job]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, "pathogen/where.txt"), "utf8")).toMatch(/\/work\/pathogen\n$/);
    expect(await readFile(join(dir, "pathogen/here.txt"), "utf8")).toBe("Snakefile\nhere.txt\nwhere.txt\n");
    expect(await readFile(join(dir, "top.txt"), "utf8")).toBe("top\n");

    const fromFile = await makeDir("monorepo-file", { ...files, "nbatch.ini": "[build]\nworkdir = pathogen\ncommand = sh -c 'pwd > where.txt'\n" });
    expect((await nbatch(["build", fromFile])).code).toBe(0);
    expect(await readFile(join(fromFile, "pathogen/where.txt"), "utf8")).toMatch(/\/work\/pathogen\n$/);

    await symlink("pathogen", join(dir, "link"));
    for (const [workdir, why] of [
      ["nosuch", "there is no such directory in it"],
      ["data", "it is left out of the upload (.nbatchignore:1: data/)"],
      ["shared/rules.smk", "it is a file, not a directory"],
      ["link", "it is a symlink (to pathogen), and the command runs in a real directory"],
    ]) {
      expect(await nbatch(["build", "--workdir", workdir!, dir, "--", "true"])).toMatchObject({
        code: 1,
        stderr: `nbatch: error: cannot run in ${workdir} of ${dir}: ${why}; give --workdir a directory that is uploaded\n`,
      });
    }
    expect((await nbatch(["build", "--workdir", "../elsewhere", dir, "--", "true"])).code).toBe(2);
  });

  it("refuses a setting that is the user's, naming the file and its line", async () => {
    const dir = await makeDir("refused", { "nbatch.ini": "[build]\ncommand = true\n\n[aws-batch]\ncpus = 2\ns3-bucket = s3://someone-elses-bucket\n" });
    const r = await nbatch(["build", dir]);
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr).toBe(
      `nbatch: error: ${dir}/nbatch.ini line 6: aws-batch.s3-bucket is yours to choose, not a project's, so a project file cannot set it: ` +
        "set it in ~/.config/nbatch/config (nbatch config set aws-batch.s3-bucket ...) or with NBATCH_AWS_BATCH_S3_BUCKET\n",
    );
  });

  it("config list --show-origin, run inside the directory or given it, shows what comes from the file", async () => {
    const dir = await makeDir("listed", { "nbatch.ini": "[build]\ncommand = make all\n[aws-batch]\ncpus = 4\nmemory = 8GiB\n" });
    const origins = (r: CliResult) => r.stdout.split("\n").map((l) => l.replace(/ {2,}/, " | "));
    const inside = await nbatch(["config", "list", "--show-origin"], { cwd: dir, env: { NBATCH_AWS_BATCH_MEMORY: "2GiB" } });
    expect(inside.code, inside.stderr).toBe(0);
    expect(origins(inside)).toEqual(
      expect.arrayContaining([
        `project ${dir}/nbatch.ini | build.command=make all`,
        `project ${dir}/nbatch.ini | aws-batch.cpus=4`,
        "env NBATCH_AWS_BATCH_MEMORY | aws-batch.memory=2GiB",
      ]),
    );
    const given = await nbatch(["config", "list", "--show-origin", "--aws-batch-cpus", "8", dir]);
    expect(origins(given)).toEqual(expect.arrayContaining([`project ${dir}/nbatch.ini | build.command=make all`, "flag --aws-batch-cpus | aws-batch.cpus=8"]));
    expect((await nbatch(["config", "get", "build.command"], { cwd: dir })).stdout).toBe("make all\n");
  });
});

describeWithMoto("the project file on AWS Batch", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    await w.writeConfig("[aws-batch]\ncpus = 1\nmemory = 1GiB\n");
  });
  afterAll(() => w?.stop());

  it("beats the user's config file and loses to the environment and flags; its command replaces the job definition's", async () => {
    const ini = "[build]\ncommand = sh -c 'echo from the project file'\n[aws-batch]\ncpus = 2\nmemory = 2GiB\n";
    const dir = await w.makeDir("project-batch", { "nbatch.ini": ini });
    const r = await w.nbatch(["build", "--aws-batch", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\] from the project file$/m);
    const mine = () => w.submits().filter((s) => s.jobName.startsWith("nbatch-project-batch-"));
    expect(mine()[0].containerOverrides.command).toEqual(["nbatch", "agent", "--", "sh", "-c", "echo from the project file"]);
    expect(mine()[0].containerOverrides.resourceRequirements).toEqual([
      { type: "VCPU", value: "2" },
      { type: "MEMORY", value: "2048" },
    ]);
    const over = await w.nbatch(["build", "--aws-batch", "--aws-batch-cpus", "3", dir, "--", "true"], { env: { ...w.env, NBATCH_AWS_BATCH_MEMORY: "3GiB" } });
    expect(over.code, over.stderr).toBe(0);
    expect(mine()[1].containerOverrides.command).toEqual(["nbatch", "agent", "--", "true"]);
    expect(mine()[1].containerOverrides.resourceRequirements).toEqual([
      { type: "VCPU", value: "3" },
      { type: "MEMORY", value: "3072" },
    ]);
    // The job's command is told what it was given.
    expect([envOf(mine()[0], "NBATCH_CPUS"), envOf(mine()[0], "NBATCH_MEMORY_MIB")]).toEqual(["2", "2048"]);
    expect([envOf(mine()[1], "NBATCH_CPUS"), envOf(mine()[1], "NBATCH_MEMORY_MIB")]).toEqual(["3", "3072"]);
  });

  it("runs the command in the working directory, which the agent takes on its command line", async () => {
    const dir = await w.makeDir("batch-workdir", { "pathogen/Snakefile": "s", "nbatch.ini": "[build]\nworkdir = pathogen\n" });
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "ls > here.txt; echo top > ../top.txt"]);
    expect(r.code, r.stderr).toBe(0);
    const submit = w.submits().find((s) => s.jobName.startsWith("nbatch-batch-workdir-"));
    // An agent that does not know --workdir refuses it, rather than run the command at the top.
    expect(submit.containerOverrides.command).toEqual(["nbatch", "agent", "--workdir", "pathogen", "--", "sh", "-c", "ls > here.txt; echo top > ../top.txt"]);
    expect(await readFile(join(dir, "pathogen/here.txt"), "utf8")).toBe("Snakefile\nhere.txt\n");
    expect(await readFile(join(dir, "top.txt"), "utf8")).toBe("top\n");
  });

  it("--dry-run lists what .nbatchignore and the project file leave out, each with its rule", async () => {
    const dir = await w.makeDir("project-dry", { ".nbatchignore": "data/\n", "nbatch.ini": "[build]\nexclude-from-upload = *.bam\n", "data/x": "x", "a.bam": "b", "in.txt": "i" });
    const r = await w.nbatch(["build", "--aws-batch", "--dry-run", "--json", dir, "--", "true"]);
    expect(r.code, r.stderr).toBe(0);
    const dry = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((e) => e.type === "dry-run");
    expect(dry.excluded).toEqual([
      { path: "a.bam", rule: "nbatch.ini: *.bam" },
      { path: "data", rule: ".nbatchignore:1: data/" },
    ]);
    expect(dry.files).toBe(3);
  });
});

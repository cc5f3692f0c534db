import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.js";

const run = promisify(execFile);

/**
 * The package as users get it: `npm pack` output installed into an empty
 * project and run through npx. --ignore-scripts keeps pack from rebuilding
 * dist/ under the other end-to-end tests, which run it at the same time.
 */
let dir: string;
let app: string;
let files: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nbatch-package-"));
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: repoRoot });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  files = packed!.files.map((f) => f.path);
  app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, packed!.filename)], { cwd: app });
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

/** npm's own output of an install, less its summary lines: what a user would see as noise. */
const warnings = (output: string) => output.split("\n").filter((l) => /\b(warn|WARN|deprecated|ERR)\b/.test(l));

/** The dependency versions npm-shrinkwrap.json records, the ones the tests ran with. */
async function shrinkwrapped(name: string): Promise<string> {
  const lock = JSON.parse(await readFile(join(repoRoot, "npm-shrinkwrap.json"), "utf8")) as { packages: Record<string, { version: string }> };
  return lock.packages[`node_modules/${name}`]!.version;
}

async function installedVersion(root: string, name: string): Promise<string> {
  return (JSON.parse(await readFile(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

const PINNED = ["@aws-sdk/client-s3", "@aws-sdk/client-batch", "@aws-sdk/core", "commander"];

const npx = (...args: string[]) => run("npx", ["--no-install", "nbatch", ...args], { cwd: app, env: { ...process.env, NBATCH_CONFIG: join(dir, "config") } });

it("ships the program and its docs, not the sources or tests", () => {
  expect(files).toEqual(expect.arrayContaining(["bin/nbatch.js", "dist/cli.js", "README.md", "package.json", "docs/aws-setup.md", "docs/cloudformation.yaml", "docs/iam/user-policy.json"]));
  expect(files.filter((f) => /^(src|test)\//.test(f))).toEqual([]);
});

it("runs as npx nbatch from a clean install", async () => {
  const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8"));
  expect((await npx("--version")).stdout.trim()).toBe(version);
  const help = (await npx("--help")).stdout;
  for (const command of ["build", "check-setup", "config", "completion", "setup"]) expect(help).toMatch(new RegExp(`^  ${command}\\b`, "m"));
  // The template is read from the installed package's docs/.
  expect((await npx("setup", "aws-batch", "--print-template")).stdout).toMatch(/^AWSTemplateFormatVersion/);
});

it("keeps settings with nbatch config and completes in bash, as installed", async () => {
  await npx("config", "set", "aws-batch.queue", "lab-queue");
  expect((await npx("config", "get", "aws-batch.queue")).stdout).toBe("lab-queue\n");
  expect(await readFile(join(dir, "config"), "utf8")).toBe("[aws-batch]\nqueue = lab-queue\n");
  const script = (await npx("completion", "bash")).stdout;
  const { stdout } = await run("bash", ["-c", 'eval "$1"; COMP_WORDS=(nbatch check-s); COMP_CWORD=1; _nbatch; echo "${COMPREPLY[@]}"', "bash", script]);
  expect(stdout.trim()).toBe("check-setup");
});

it("installs globally from the npm pack tarball without a warning, with exactly the tested dependency versions", async () => {
  const prefix = join(dir, "global");
  const [tarball] = (await readdir(dir)).filter((f) => f.endsWith(".tgz"));
  const { stdout, stderr } = await run("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball!)]);
  expect(warnings(stdout + stderr)).toEqual([]);
  const installed = join(prefix, "lib", "node_modules", "nbatch");
  for (const name of PINNED) expect(await installedVersion(installed, name), name).toBe(await shrinkwrapped(name));
  expect((await run(join(prefix, "bin", "nbatch"), ["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
}, 120_000);

it("installs the way the job image's Dockerfile does, from this tree's tarball", async () => {
  const dockerfile = await readFile(join(repoRoot, "docs/job-image/Dockerfile"), "utf8");
  // The image installs the tarball that `npm pack` made here, copied in as /tmp/nbatch.tgz.
  const install = /^RUN (npm install --global --omit=dev \/tmp\/nbatch\.tgz)/m.exec(dockerfile)?.[1];
  expect(install).toBeDefined();
  expect(dockerfile).toMatch(/^FROM node:(\d+)-/m);
  const prefix = join(dir, "image");
  const [tarball] = (await readdir(dir)).filter((f) => f.endsWith(".tgz"));
  const argv = install!.split(" ").slice(1).map((w) => (w === "/tmp/nbatch.tgz" ? join(dir, tarball!) : w));
  const { stdout, stderr } = await run("npm", [...argv, "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline"]);
  expect(warnings(stdout + stderr)).toEqual([]);
  expect((await run(join(prefix, "bin", "nbatch"), ["agent", "--help"])).stdout).toContain("The job side");
}, 120_000);

it("installs from a clone as the README says", async () => {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const block = /<!-- install-from-clone -->\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, "README's install-from-clone block").toBeDefined();
  const clone = join(dir, "clone");
  const prefix = join(dir, "from-clone");
  await run("git", ["clone", "--quiet", repoRoot, clone]);
  // The README's lines as written, after its `git clone` and `cd`; the global install goes under a prefix of the test's.
  const lines = block!.split("\n").filter((l) => l.trim() && !/^(git clone|cd) /.test(l));
  const script = lines.join(" && ");
  const { stdout, stderr } = await run("sh", ["-c", script], { cwd: clone, env: { ...process.env, npm_config_prefix: prefix }, maxBuffer: 16 * 1024 * 1024 });
  expect(warnings(stdout + stderr)).toEqual([]);
  expect((await run(join(prefix, "bin", "nbatch"), ["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
}, 180_000);

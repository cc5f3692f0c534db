import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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

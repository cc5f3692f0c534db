import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordRun } from "../../src/history.js";
import { nbatchBin, runCli } from "../support/cli.js";

const has = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;

let dir: string;
const scripts: Record<string, string> = {};
/** The shells' environment: `nbatch` on PATH (this build), and a run history of two jobs. */
let shellEnv: NodeJS.ProcessEnv;
const JOBS = ["5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44", "9d1c0b7e-2a4f-4c3e-8f6a-1b2c3d4e5f60"];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nbatch-completion-"));
  await mkdir(join(dir, "bin"));
  await writeFile(join(dir, "bin", "nbatch"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(nbatchBin)} "$@"\n`, { mode: 0o755 });
  shellEnv = { ...process.env, HOME: dir, XDG_STATE_HOME: join(dir, "state"), PATH: `${join(dir, "bin")}:${process.env.PATH}` };
  for (const [i, jobId] of JOBS.entries()) {
    const run = { runId: `run-${i}`, jobId, jobName: "nbatch-wf", dir: "/w", queue: "q", region: "us-east-1", bucket: "s3://b", resultsUrl: "s3://b/r", inputsUrl: "s3://b/i", submittedAt: 1_700_000_000_000 + i, command: ["make"] };
    await recordRun({ HOME: dir, XDG_STATE_HOME: join(dir, "state") }, run);
  }
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await runCli(["completion", shell], { env: { HOME: dir } });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    scripts[shell] = join(dir, `nbatch.${shell}`);
    await writeFile(scripts[shell]!, r.stdout);
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("bash completion", () => {
  /** COMPREPLY for the words typed so far; the last word is the one being completed. */
  const complete = (...words: string[]) => {
    const program = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nbatch; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync("bash", ["-c", program, "bash", scripts.bash!, ...words], { encoding: "utf8", env: shellEnv }).split("\n").filter(Boolean);
  };

  it("registers itself for nbatch", () => {
    const out = execFileSync("bash", ["-c", 'source "$1" && complete -p nbatch', "bash", scripts.bash!], { encoding: "utf8" });
    expect(out.trim()).toBe("complete -o default -F _nbatch nbatch");
  });

  it("completes commands, subcommands and their options from the program itself", () => {
    expect(complete("nbatch", "")).toEqual(expect.arrayContaining(["build", "check-setup", "config", "completion"]));
    expect(complete("nbatch", "con")).toEqual(["config"]);
    expect(complete("nbatch", "config", "s")).toEqual(["set"]);
    expect(complete("nbatch", "check-setup", "--js")).toEqual(["--json"]);
    expect(complete("nbatch", "build", "--aws-batch-q")).toEqual(["--aws-batch-queue"]);
    expect(complete("nbatch", "--vers")).toEqual(["--version"]);
  });

  it("completes argument choices, and skips the values of options", () => {
    expect(complete("nbatch", "completion", "")).toEqual(["bash", "zsh", "fish"]);
    expect(complete("nbatch", "config", "set", "aws-batch.q")).toEqual(["aws-batch.queue"]);
    expect(complete("nbatch", "config", "list", "--aws-batch-queue", "con")).toEqual([]);
    expect(complete("nbatch", "check-setup", "--aws-region", "us-east-1", "--js")).toEqual(["--json"]);
  });

  it("offers values, not file names, for options and settings with choices, and recent job ids", () => {
    expect(complete("nbatch", "build", "--sse", "")).toEqual(["AES256", "aws:kms", "aws:kms:dsse", "none"]);
    expect(complete("nbatch", "build", "--arch", "")).toEqual(["x86_64", "arm64"]);
    expect(complete("nbatch", "build", "--retry-on", "")).toEqual(["spot", "any"]);
    expect(complete("nbatch", "config", "set", "core.runner", "")).toEqual(["aws-batch", "local"]);
    expect(complete("nbatch", "config", "set", "aws-batch.sse", "aws")).toEqual(["aws:kms", "aws:kms:dsse"]);
    const newestFirst = [...JOBS].reverse();
    expect(complete("nbatch", "build", "--attach", "")).toEqual(newestFirst);
    expect(complete("nbatch", "logs", "")).toEqual(newestFirst);
    expect(complete("nbatch", "cancel", "9d")).toEqual([JOBS[1]]);
    expect(complete("nbatch", "status", JOBS[0]!, "")).toEqual(newestFirst);
    // The scripts' own helper is not offered as a command.
    expect(complete("nbatch", "__")).toEqual([]);
  });

  it("leaves the user's command after -- to bash", () => {
    expect(complete("nbatch", "build", "dir", "--", "con")).toEqual([]);
  });
});

describe.skipIf(!has("zsh"))("zsh completion", () => {
  it("loads with source <(nbatch completion zsh) in a shell that never ran compinit", () => {
    const out = execFileSync("zsh", ["-f", "-c", "source <(nbatch completion zsh) && print -r -- $_comps[nbatch]"], { encoding: "utf8", env: shellEnv });
    expect(out.trim()).toBe("_nbatch");
  });

  it("asks nbatch for recent job ids and a setting's values", () => {
    // compadd stood in for: it prints what it is given.
    const values = (kind: string, words: string) =>
      execFileSync("zsh", ["-f", "-c", `source "$1"; compadd() { print -l -- \${(P)2} }; words=(${words} ''); CURRENT=\${#words}; _nbatch_values ${kind}`, "zsh", scripts.zsh!], { encoding: "utf8", env: shellEnv })
        .split("\n")
        .filter(Boolean);
    expect(values("jobs", "logs")).toEqual([...JOBS].reverse());
    expect(values("setting-values", "set core.runner")).toEqual(["aws-batch", "local"]);
  });

  it("loads, and registers _nbatch for nbatch", () => {
    const program = 'autoload -U compinit && compinit -u -D && source "$1" && print -r -- $_comps[nbatch] && whence -w _nbatch_config_set';
    const out = execFileSync("zsh", ["-f", "-c", program, "zsh", scripts.zsh!], { encoding: "utf8", env: { ...process.env, HOME: dir } });
    expect(out.trim().split("\n")).toEqual(["_nbatch", "_nbatch_config_set: function"]);
  });
});

describe.skipIf(!has("fish"))("fish completion", () => {
  const complete = (line: string) =>
    execFileSync("fish", ["--no-config", "-c", `source $argv[1]; complete -C ${JSON.stringify(line)}`, scripts.fish!], { encoding: "utf8", env: shellEnv })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t")[0]);

  it("completes commands, options and choices", () => {
    expect(complete("nbatch con")).toEqual(["config"]);
    expect(complete("nbatch config ")).toEqual(["get", "list", "set", "unset"]);
    expect(complete("nbatch completion ")).toEqual(["bash", "fish", "zsh"]);
    expect(complete("nbatch check-setup --js")).toEqual(["--json"]);
    expect(complete("nbatch config set aws-batch.que")).toEqual(["aws-batch.queue"]);
  });

  it("offers choices and recent job ids for option values and arguments", () => {
    expect(complete("nbatch build --sse ")).toEqual(["AES256", "aws:kms", "aws:kms:dsse", "none"]);
    expect(complete("nbatch build --arch ")).toEqual(["arm64", "x86_64"]);
    expect(complete("nbatch build --attach ").sort()).toEqual([...JOBS].sort());
    expect(complete("nbatch logs ").sort()).toEqual([...JOBS].sort());
    expect(complete("nbatch config set core.runner ")).toEqual(["aws-batch", "local"]);
    expect(complete("nbatch status abc ").sort()).toEqual([...JOBS].sort());
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const has = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;

let dir: string;
const scripts: Record<string, string> = {};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nbatch-completion-"));
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
    return execFileSync("bash", ["-c", program, "bash", scripts.bash!, ...words], { encoding: "utf8" }).split("\n").filter(Boolean);
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

  it("leaves the user's command after -- to bash", () => {
    expect(complete("nbatch", "build", "dir", "--", "con")).toEqual([]);
  });
});

describe.skipIf(!has("zsh"))("zsh completion", () => {
  it("loads, and registers _nbatch for nbatch", () => {
    const program = 'autoload -U compinit && compinit -u -D && source "$1" && print -r -- $_comps[nbatch] && whence -w _nbatch_config_set';
    const out = execFileSync("zsh", ["-f", "-c", program, "zsh", scripts.zsh!], { encoding: "utf8", env: { ...process.env, HOME: dir } });
    expect(out.trim().split("\n")).toEqual(["_nbatch", "_nbatch_config_set: function"]);
  });
});

describe.skipIf(!has("fish"))("fish completion", () => {
  const complete = (line: string) =>
    execFileSync("fish", ["--no-config", "-c", `source $argv[1]; complete -C ${JSON.stringify(line)}`, scripts.fish!], { encoding: "utf8" })
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
});

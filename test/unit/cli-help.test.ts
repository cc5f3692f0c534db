import { expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { createTestOutput, testContext } from "../support/io.js";

async function help(words: string[]): Promise<string> {
  const io = createTestOutput();
  expect(await main([...words, "--help"], testContext({}, { out: io }))).toBe(0);
  return io.stdoutText();
}

/** The command names under "Commands:" in a help text. */
function commandsIn(text: string): string[] {
  const section = /^Commands:\n((?: {2}.*\n?)+)/m.exec(text)?.[1] ?? "";
  return section.split("\n").map((line) => /^ {2}(\S+)/.exec(line)?.[1]).filter((name): name is string => !!name && name !== "help");
}

it("every command's --help shows examples", async () => {
  const pending = commandsIn(await help([])).map((name) => [name]);
  expect(pending.length).toBeGreaterThan(3);
  const checked: string[] = [];
  while (pending.length) {
    const words = pending.shift()!;
    const text = await help(words);
    expect(text, `nbatch ${words.join(" ")} --help`).toMatch(/^Examples?\b.*\n {2}.*\bnbatch\b/m);
    pending.push(...commandsIn(text).map((name) => [...words, name]));
    checked.push(words.join(" "));
  }
  expect(checked).toEqual(expect.arrayContaining(["check-setup", "config set", "completion", "setup aws-batch"]));
});

it("shows real defaults but not the empty list a repeatable option starts from", async () => {
  const text = await help(["build"]);
  expect(text).toMatch(/--tag <KEY=VALUE>.*\(repeatable\)[^\n]*ECS task\n/);
  expect(text).not.toContain("(default: [])");
  expect(text).toContain("(default:");
});

it("nbatch help names a command's help, and says when there is no such command", async () => {
  const run = async (words: string[]) => {
    const io = createTestOutput();
    const code = await main(words, testContext({}, { out: io }));
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };
  expect(await run(["help", "config", "set"])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: nbatch config set /) });
  expect((await run(["help"])).stdout).toMatch(/^Usage: nbatch \[options\] \[command\]/);
  const unknown = await run(["help", "nosuch"]);
  expect(unknown).toMatchObject({ code: 2, stdout: "" });
  expect(unknown.stderr).toBe('nbatch: error: unknown command "nosuch" for nbatch: use one of build, status, logs, cancel, ls, agent, check-setup, config, completion, setup\n');
  expect((await run(["help", "config", "nosuch"])).stderr).toMatch(/^nbatch: error: unknown command "nosuch" for nbatch config: use one of list, get, set, unset\n$/);
});

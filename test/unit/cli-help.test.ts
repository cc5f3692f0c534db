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

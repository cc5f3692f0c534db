import { describe, expect, it } from "vitest";
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

it("wraps every command's prose within a narrow terminal, leaving the indented examples as they are", async () => {
  const narrow = async (words: string[]) => {
    const io = createTestOutput();
    await main([...words, "--help"], testContext({ COLUMNS: "60" }, { out: io }));
    return io.stdoutText();
  };
  for (const words of [["build"], ["check-setup"], ["logs"], ["ls"], ["setup", "aws-batch"], ["status"], ["completion"]]) {
    for (const line of (await narrow(words)).split("\n").filter((l) => /^\S/.test(l))) expect(line.length, `${words.join(" ")}: ${line}`).toBeLessThanOrEqual(60);
  }
  // A paragraph is wrapped as one, not line by line.
  expect((await narrow(["check-setup"])).replace(/\n(?=\S)/g, " ")).toContain("risks data) or ✘ (nbatch build will fail), with a line on how to fix it.");
});

describe.each([60, 80, 120])("nbatch build --help at %i columns", (columns) => {
  const text = async (env: Record<string, string>, o: { columns?: number } = {}) => {
    const io = createTestOutput();
    const out = Object.assign(io, { columns: o.columns });
    expect(await main(["build", "--help"], testContext(env, { out }))).toBe(0);
    return io.stdoutText();
  };

  it("groups the options, wraps within the width at spaces only, and keeps every description whole", async () => {
    for (const help of [await text({ COLUMNS: String(columns) }), await text({}, { columns })]) {
      // The examples are commands to copy, shown as they are; everything before them fits.
      const laidOut = help.slice(0, help.indexOf("\nExamples:"));
      for (const line of laidOut.split("\n")) expect(line.length, line).toBeLessThanOrEqual(columns);
      const headings = laidOut.split("\n").filter((l) => /^\S.*:$/.test(l));
      expect(headings).toEqual(["Arguments:", "Where to run:", "Resources:", "Retries and scheduling:", "What travels:", "Fan-out:", "Job control:", "Output:"]);
      const flat = laidOut.replace(/\s+/g, " ");
      for (const description of ["S3 bucket and optional key prefix for inputs and results, e.g. s3://my-lab-nbatch/jobs (default: none: required, never guessed)", "AWS account id that must own the bucket; sent as ExpectedBucketOwner on every S3 call (default: not checked)", "display help for command"]) {
        expect(flat).toContain(description);
      }
    }
  });
});

it("shows real defaults but not the empty list a repeatable option starts from", async () => {
  const text = await help(["build"]);
  expect(text.replace(/\s+/g, " ")).toMatch(/--tag <KEY=VALUE> tag the job \(repeatable\); tags propagate to its ECS task --dry-run/);
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
  // What commander itself refuses is one line in nbatch's form too.
  expect(await run(["nosuch"])).toMatchObject({ code: 2, stderr: "nbatch: error: unknown command 'nosuch' (see --help)\n" });
  expect(await run(["build", "--nosuch"])).toMatchObject({ code: 2, stderr: "nbatch: error: unknown option '--nosuch' (see --help)\n" });
});

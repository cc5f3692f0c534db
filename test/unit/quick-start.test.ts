import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "../support/cli.js";

it("CI runs the README's Quick start lines exactly as written", async () => {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const block = /## Quick start\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  const lines = block?.trim().split("\n");
  expect(lines?.[0]).toBe("npm ci && npm run build && npx nbatch build examples/hello");
  const ci = (await readFile(join(repoRoot, ".ci", "run"), "utf8")).split("\n");
  for (const line of lines!) expect(ci, line).toContain(line);
});

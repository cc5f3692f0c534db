import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { runCli } from "../support/cli.js";

it("a command ended by a signal exits 128 + its number, whichever signal", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nbatch-agent-exit-"));
  try {
    const r = await runCli(["build", "--local", dir, "--", "sh", "-c", "kill -USR1 $$"], { env: { HOME: dir } });
    expect(r.stderr).toContain("the command was ended by SIGUSR1");
    expect(r.code).toBe(128 + 10);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

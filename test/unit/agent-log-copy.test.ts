import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { expect, it } from "vitest";
import { LogCopy, MAX_LINE_BYTES } from "../../src/agent/log-copy.js";
import { createTestOutput } from "../support/io.js";

/** What the copy holds, as [time, line] pairs, once the child has exited and the copy is saved. */
async function copyOf(start: () => ChildProcess, graceMs = 2000): Promise<{ entries: [number, string][]; out: ReturnType<typeof createTestOutput> }> {
  const out = createTestOutput();
  // Made before the child starts, as the agent does: a child quicker than mkdtemp must not exit unseen.
  const copy = await LogCopy.create();
  const child = start();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  copy.tee(child, out);
  await exited;
  let saved = Buffer.alloc(0);
  await copy.save(async (body: Readable) => {
    for await (const chunk of body) saved = Buffer.concat([saved, chunk as Buffer]);
  }, graceMs);
  const lines = gunzipSync(saved).toString("utf8").split("\n");
  expect(lines.pop()).toBe("");
  return { entries: lines.map((l) => [Number(l.slice(0, l.indexOf("\t"))), l.slice(l.indexOf("\t") + 1)]), out };
}

it("passes the output on as it is and keeps each line, stamped with its time, in pieces CloudWatch would take", async () => {
  const long = "x".repeat(MAX_LINE_BYTES + 10);
  const exact = "y".repeat(MAX_LINE_BYTES);
  const script = `process.stdout.write("one\\n\\ntwo\\n"); process.stderr.write("err line\\n"); process.stdout.write("x".repeat(${MAX_LINE_BYTES + 10}) + "\\n" + "y".repeat(${MAX_LINE_BYTES}) + "\\nno newline at the end")`;
  const before = Date.now();
  const { entries, out } = await copyOf(() => spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] }));
  expect(out.stdoutText()).toBe(`one\n\ntwo\n${long}\n${exact}\nno newline at the end`);
  expect(out.stderrText()).toBe("err line\n");
  for (const [time] of entries) expect(time).toBeGreaterThanOrEqual(before);
  const messages = entries.map(([, m]) => m);
  expect(messages.filter((m) => m !== "err line")).toEqual(["one", "", "two", "x".repeat(MAX_LINE_BYTES), "x".repeat(10), exact, "no newline at the end"]);
  expect(messages).toContain("err line");
});

it("stops copying soon after the command exits, though a process it left running holds the output open", async () => {
  // In a process group of its own, so the test can end the process left behind.
  let child: ChildProcess | undefined;
  const start = () => (child = spawn("sh", ["-c", "echo started; (sleep 30; echo late) &"], { stdio: ["ignore", "pipe", "pipe"], detached: true }));
  try {
    const started = Date.now();
    const { entries } = await copyOf(start, 300);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(entries.map(([, m]) => m)).toEqual(["started"]);
  } finally {
    if (child) {
      process.kill(-child.pid!, "SIGKILL");
      child.stdout!.destroy();
      child.stderr!.destroy();
    }
  }
});

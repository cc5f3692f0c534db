import { execFile } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { repoRoot } from "../support/cli.js";

const heapModule = pathToFileURL(join(repoRoot, "dist", "heap.js")).href;

/**
 * Half a second of what a long pack does to the heap: objects made fast, a
 * few of them kept a while, the event loop turning between batches. Prints
 * the young generation's size in MiB. `capped` lets it grow as nbatch does
 * for a small tree; otherwise V8 grows it by its own rule.
 */
const workload = (capped: boolean) => `
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { setImmediate as turn } from "node:timers/promises";
const { smallYoungGeneration, youngGenerationFor } = await import(${JSON.stringify(heapModule)});
smallYoungGeneration();
if (${capped}) youngGenerationFor(100);
else setFlagsFromString("--semi-space-growth-factor=2");
const kept = [];
for (let round = 0; round < 300; round++) {
  for (let i = 0; i < 100000; i++) {
    const o = { i, s: "a" + (i % 1000) };
    if (i % 50 === 0) kept.push(o);
  }
  if (kept.length > 200000) kept.splice(0, 100000);
  await turn();
}
const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
console.log(young.space_size / 1048576);
`;

async function youngMiB(capped: boolean): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", workload(capped)]);
  return Number(stdout.trim());
}

it("holds the young generation at 16 MiB however long a small tree's pack runs", async () => {
  // The same work with V8's own rule grows it further: the cap is what holds it.
  expect(await youngMiB(false)).toBeGreaterThan(16);
  expect(await youngMiB(true)).toBeLessThanOrEqual(16);
});

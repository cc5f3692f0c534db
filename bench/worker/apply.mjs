// Applies a results archive to <dir> twice, as nbatch build does after a job:
// the first time writes the changes, the second finds everything identical.
// Reports wall time and bytes read (the kernel's rchar) of each.
import { readFile } from "node:fs/promises";
import { scanInputs } from "../../dist/job/pack.js";
import { applyResults } from "../../dist/job/apply.js";
import { report } from "./common.mjs";

const [archivePath, dir] = process.argv.slice(2);
const rchar = async () => Number(/rchar:\s+(\d+)/.exec(await readFile("/proc/self/io", "utf8"))[1]);
// Every method of the reporter (whatever it grows) is a no-op: output is not what is measured.
const reporter = new Proxy({}, { get: () => () => undefined });
const baseline = (await scanInputs(dir, [])).manifest.entries;

async function apply() {
  const before = await rchar();
  const started = performance.now();
  const { report: r } = await applyResults({ archivePath, dir, runId: "bench-00000000", baseline, source: archivePath, out: reporter, limits: { maxBytes: 100 * 1024 ** 3, maxEntries: 10_000_000 } });
  const ms = performance.now() - started;
  const read = (await rchar()) - before;
  return { ms, readBytes: read, written: r.written.length, identical: r.identical.length, refused: r.refused.length };
}
report({ first: await apply(), again: await apply() });

// A results archive as the agent makes it, for a job that changed the given files of <dir>:
// each grows by one line and gets a new mtime.
// usage: make-results.mjs <dir> <jobDir> <out.zip> <path>...
import { appendFile, cp, mkdir, utimes } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { PROTOCOL_VERSION, RESULTS_ENTRY } from "../../dist/protocol.js";
import { statEntry } from "../../dist/tree/manifest.js";
import { packZip } from "../../dist/archive/pack.js";
import { report } from "./common.mjs";

const [dir, jobDir, out, ...paths] = process.argv.slice(2);
const changedAt = new Date("2024-07-01T08:00:00Z");
const files = [];
for (const path of paths) {
  await mkdir(dirname(join(jobDir, path)), { recursive: true });
  await cp(join(dir, path), join(jobDir, path));
  await appendFile(join(jobDir, path), "changed by the benchmark's job\n");
  await utimes(join(jobDir, path), changedAt, changedAt);
  files.push(await statEntry(jobDir, path));
}
const results = {
  protocol: PROTOCOL_VERSION,
  runId: "bench-00000000",
  exitCode: 0,
  signal: null,
  deleted: [],
  files,
  timings: { started: 0, finished: 0 },
};
await pipeline(packZip({ root: jobDir, entries: files, extra: [{ name: RESULTS_ENTRY, data: JSON.stringify(results) }] }), createWriteStream(out));
report({ files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) });

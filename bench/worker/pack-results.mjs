// A results archive as the agent makes it, for a job that created every file of <jobDir>.
// usage: pack-results.mjs <jobDir> <out.zip> <runId> (the run the CLI checks results.json belongs to)
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { PROTOCOL_VERSION, RESULTS_ENTRY } from "../../dist/protocol.js";
import { scanDirectory } from "../../dist/tree/manifest.js";
import { packZip } from "../../dist/archive/pack.js";
import { report } from "./common.mjs";

const [jobDir, out, runId] = process.argv.slice(2);
const { entries } = await scanDirectory(jobDir, () => ({ excluded: false }));
const results = { protocol: PROTOCOL_VERSION, runId, exitCode: 0, signal: null, deleted: [], files: entries, timings: { started: 0, finished: 0 } };
await pipeline(packZip({ root: jobDir, entries, extra: [{ name: RESULTS_ENTRY, data: JSON.stringify(results) }] }), createWriteStream(out));
report({ files: entries.filter((e) => e.type === "file").length });

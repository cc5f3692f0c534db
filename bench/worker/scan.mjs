// Where an unchanged re-run spends its time before the first AWS call: scan and fingerprint.
import { fingerprint } from "../../dist/job/pack.js";
import { scanDirectory } from "../../dist/tree/manifest.js";
import { createExcluder } from "../../dist/tree/patterns.js";
import { report } from "./common.mjs";

const started = performance.now();
const manifest = await scanDirectory(process.argv[2], createExcluder([]));
const scanned = performance.now();
fingerprint(manifest.entries);
const done = performance.now();
report({ ms: done - started, scanMs: scanned - started, fingerprintMs: done - scanned, entries: manifest.entries.length, files: manifest.files, bytes: manifest.bytes });

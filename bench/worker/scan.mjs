// Where an unchanged re-run spends its time before the first AWS call: the scan, then the tree planned and described.
import { buildTree, planInputs } from "../../dist/job/inputs-tree.js";
import { scanDirectory } from "../../dist/tree/manifest.js";
import { createExcluder } from "../../dist/tree/patterns.js";
import { report } from "./common.mjs";

const started = performance.now();
const manifest = await scanDirectory(process.argv[2], createExcluder([]), { stamps: true });
const scanned = performance.now();
// As when every file's bytes are already in S3: each stamp stands for its hash, all in one pack.
const at = [{ pack: "bench-pack", offset: 0, end: 1, crc32: 0 }];
const shaOf = (e) => manifest.stamps.of(e);
const known = new Map(manifest.entries.map((e) => [shaOf(e) ?? "", at]));
await buildTree(manifest.entries, planInputs(manifest.entries, shaOf, known));
const done = performance.now();
report({ ms: done - started, scanMs: scanned - started, fingerprintMs: done - scanned, entries: manifest.entries.length, files: manifest.files, bytes: manifest.bytes });

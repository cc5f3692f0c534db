// A zip of <dir> as nbatch packs one (a fresh directory's pack), written to <out>.
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { scanInputs } from "../../dist/job/pack.js";
import { packZip } from "../../dist/archive/pack.js";
import { report } from "./common.mjs";

const [dir, out] = process.argv.slice(2);
const started = performance.now();
const { manifest } = await scanInputs(dir, []);
await pipeline(packZip({ root: dir, entries: manifest.entries }), createWriteStream(out));
report({ ms: performance.now() - started });

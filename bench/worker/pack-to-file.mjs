// The archive nbatch would upload for <dir>, written to <out>.
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { packInputs, scanInputs } from "../../dist/job/pack.js";
import { report } from "./common.mjs";

const [dir, out] = process.argv.slice(2);
const started = performance.now();
await pipeline(packInputs(await scanInputs(dir, [])), createWriteStream(out));
report({ ms: performance.now() - started });

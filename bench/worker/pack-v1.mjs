// An inputs archive of protocol 1, as nbatch before protocol 2 uploaded it: the whole directory and its manifest.
// usage: pack-v1.mjs <dir> <out>
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { packZip } from "../../dist/archive/pack.js";
import { scanInputs } from "../../dist/job/pack.js";
import { INPUTS_MANIFEST_ENTRY } from "../../dist/protocol.js";
import { report } from "./common.mjs";

const [dir, out] = process.argv.slice(2);
const { manifest } = await scanInputs(dir, []);
const extra = [{ name: INPUTS_MANIFEST_ENTRY, data: JSON.stringify({ protocol: 1, entries: manifest.entries }) }];
await pipeline(packZip({ root: dir, entries: manifest.entries, extra }), createWriteStream(out));
report({ files: manifest.files, bytes: manifest.bytes });

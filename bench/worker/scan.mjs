// Where an unchanged re-run spends its time before the first AWS call: scan and fingerprint.
import { scanInputs } from "../../dist/job/pack.js";
import { report } from "./common.mjs";

const started = performance.now();
const inputs = await scanInputs(process.argv[2], []);
report({ ms: performance.now() - started, entries: inputs.manifest.entries.length });

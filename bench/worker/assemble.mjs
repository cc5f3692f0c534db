// The agent's first step alone: the inputs at <url> into <dir>, as a job makes them.
// usage: assemble.mjs <endpoint> <inputs url> <dir> <scratch zip>
import { createStore } from "../../dist/agent/store.js";
import { fetchInputs } from "../../dist/agent/inputs.js";
import { report, s3Client } from "./common.mjs";

const [endpoint, url, dir, scratch] = process.argv.slice(2);
const s3 = s3Client(endpoint);
const started = performance.now();
const entries = await fetchInputs(createStore(() => s3), url, dir, scratch);
report({ ms: performance.now() - started, entries: entries.length });
s3.destroy();

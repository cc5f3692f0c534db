// Scan, pack and upload in one process, with a chosen deflate level, part size and concurrency.
// usage: pack-upload.mjs <endpoint> <dir> <bucket> <key> <level|adaptive> [partMiB] [queueSize]
import { uploadStream } from "../../dist/aws/s3.js";
import { scanInputs } from "../../dist/job/pack.js";
import { packZip } from "../../dist/archive/pack.js";
import { AdaptivePace } from "../../dist/archive/zip-pace.js";
import { report, s3Client } from "./common.mjs";

const [endpoint, dir, bucket, key, level, partMiB, queueSize] = process.argv.slice(2);
const s3 = s3Client(endpoint);
const started = performance.now();
const inputs = await scanInputs(dir, []);
let bytes = 0;
// Wired as the CLI wires it: the uploader tells the pacer what its parts took.
const pace = new AdaptivePace();
const body = packZip({ root: dir, entries: inputs.manifest.entries, level: level === "adaptive" ? undefined : Number(level), pace });
body.on("data", (c) => (bytes += c.length));
await uploadStream(s3, { bucket, key }, body, {
  estimatedBytes: inputs.manifest.bytes,
  ...(partMiB ? { partSize: Number(partMiB) * 1024 * 1024 } : {}),
  ...(queueSize ? { queueSize: Number(queueSize) } : {}),
  onProgress: pace.uploaded,
});
report({ ms: performance.now() - started, bytes });
s3.destroy();

// The floor: upload an already-made archive with nbatch's own uploader and defaults.
// usage: upload-file.mjs <endpoint> <file> <bucket> <key> [partMiB] [queueSize]
import { createReadStream } from "node:fs";
import { uploadStream } from "../../dist/aws/s3.js";
import { report, s3Client } from "./common.mjs";

const [endpoint, file, bucket, key, partMiB, queueSize] = process.argv.slice(2);
const s3 = s3Client(endpoint);
const started = performance.now();
await uploadStream(s3, { bucket, key }, createReadStream(file, { highWaterMark: 1024 * 1024 }), {
  ...(partMiB ? { partSize: Number(partMiB) * 1024 * 1024 } : {}),
  ...(queueSize ? { queueSize: Number(queueSize) } : {}),
});
report({ uploadMs: performance.now() - started });
s3.destroy();

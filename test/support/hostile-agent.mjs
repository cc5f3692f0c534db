// A stand-in for `nbatch agent` that uploads a crafted results archive:
//   node hostile-agent.mjs <archive.zip> -- <command ignored>
// The archive comes from hostile-zip.ts; its results.json gets this job's
// run id in place of the placeholder (same length), with the CRC fixed.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import { crc32 } from "node:zlib";

const PLACEHOLDER = "@@nbatch-run-id-placeholder-@@@@@@@@";
const RESULTS = ".nbatch/results.json";

const zip = readFileSync(process.argv[2]);
const runId = process.env.NBATCH_RUN_ID;
const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(process.env.NBATCH_RESULTS_URL ?? "") ?? [];
if (!runId || runId.length !== PLACEHOLDER.length || !bucket) throw new Error("not in an nbatch job");

// Find results.json through the central directory, then patch its data and both CRC fields.
const end = zip.length - 22;
let central = zip.readUInt32LE(end + 16);
for (let n = zip.readUInt16LE(end + 10); n > 0; n--) {
  const nameLength = zip.readUInt16LE(central + 28);
  const next = central + 46 + nameLength + zip.readUInt16LE(central + 30) + zip.readUInt16LE(central + 32);
  if (zip.toString("utf8", central + 46, central + 46 + nameLength) === RESULTS) {
    const local = zip.readUInt32LE(central + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + zip.readUInt32LE(central + 20));
    // A results.json made to break or lie may have no placeholder.
    if (data.includes(PLACEHOLDER)) data.write(runId, data.indexOf(PLACEHOLDER), "utf8");
    const crc = crc32(data);
    zip.writeUInt32LE(crc, local + 14);
    zip.writeUInt32LE(crc, central + 16);
  }
  central = next;
}

// The job image's Node version is not the user's concern (nbatch itself silences this too).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const s3 = new S3Client({ forcePathStyle: true });
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: zip }));
s3.destroy();
console.log(`hostile agent: uploaded ${zip.length} bytes to ${process.env.NBATCH_RESULTS_URL}`);

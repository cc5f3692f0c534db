// Reads a chosen share of a zip in S3 either as nbatch's selective --download
// does (ranged GETs of the central directory and each selected entry into a
// sparse file), or by downloading the whole archive first; then inflates the
// chosen entries from the local file either way.
// usage: ranged.mjs <endpoint> <bucket> <key> <ranged|whole> <fraction> <seed>
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { rangesFor } from "../../dist/archive/ranges.js";
import { openZip, openZipSource } from "../../dist/archive/zip-reader.js";
import { byteSource, downloadToFile } from "../../dist/aws/s3.js";
import { fetchRanges } from "../../dist/job/fetch.js";
import { report, s3Client } from "./common.mjs";

const [endpoint, bucket, key, method, fraction, seed] = process.argv.slice(2);
const s3 = s3Client(endpoint);
// Inflating from the local file, a few at a time.
const CONCURRENCY = 4;

/** The same selection for both methods: a seeded shuffle, taken until `fraction` of the compressed bytes. */
function select(files) {
  const entries = files.filter((f) => !f.path.endsWith("/"));
  const total = entries.reduce((n, f) => n + f.compressedSize, 0);
  let x = Number(seed) >>> 0;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const shuffled = entries.map((f) => [rand(), f]).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  const picked = [];
  let bytes = 0;
  for (const f of shuffled) {
    if (bytes >= Number(fraction) * total) break;
    picked.push(f);
    bytes += f.compressedSize;
  }
  return { picked, bytes, total };
}

async function readAll(files) {
  let next = 0;
  let out = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++];
      await pipeline(await f.open(), new Writable({ write: (c, _e, cb) => ((out += c.length), cb()) }));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

const started = performance.now();
const tmp = await mkdtemp(join(tmpdir(), "nbatch-ranged-"));
const local = join(tmp, "a.zip");
let chosen;
if (method === "ranged") {
  // Forced, whatever the cost: the sweep measures both sides of the crossover.
  const source = await byteSource(s3, { bucket, key });
  const remote = await openZipSource(source, key);
  chosen = select(remote.records);
  const wanted = new Set(chosen.picked.map((f) => f.path));
  await fetchRanges(source, local, rangesFor(remote, (p) => wanted.has(p)));
} else {
  await downloadToFile(s3, { bucket, key }, local);
  const whole = await openZip(local);
  chosen = select(whole.records);
  whole.close();
}
const wanted = new Set(chosen.picked.map((f) => f.path));
const zip = await openZip(local);
const uncompressed = await readAll(zip.records.filter((f) => wanted.has(f.path)));
zip.close();
const ms = performance.now() - started;
await rm(tmp, { recursive: true, force: true });
report({ ms, entries: chosen.picked.length, selectedBytes: chosen.bytes, archiveBytes: chosen.total, uncompressed });
s3.destroy();

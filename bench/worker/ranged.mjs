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
import { Open } from "unzipper";
import { downloadToFile } from "../../dist/aws/s3.js";
import { fetchRanges, rangesFor } from "../../dist/aws/s3-selective.js";
import { openRemoteZip } from "../../dist/aws/s3-zip.js";
import { report, s3Client } from "./common.mjs";

const [endpoint, bucket, key, method, fraction, seed] = process.argv.slice(2);
const s3 = s3Client(endpoint);
// Inflating from the local file, a few at a time.
const CONCURRENCY = 4;

/** The same selection for both methods: a seeded shuffle, taken until `fraction` of the compressed bytes. */
function select(files) {
  const entries = files.filter((f) => f.type === "File");
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
      await pipeline(f.stream(), new Writable({ write: (c, _e, cb) => ((out += c.length), cb()) }));
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
  const zip = await openRemoteZip(s3, { bucket, key });
  chosen = select(zip.directory.files);
  const wanted = new Set(chosen.picked.map((f) => f.path));
  await fetchRanges(zip, local, rangesFor(zip.directory, zip.size, (p) => wanted.has(p)));
} else {
  await downloadToFile(s3, { bucket, key }, local);
  chosen = select((await Open.file(local)).files);
}
const wanted = new Set(chosen.picked.map((f) => f.path));
const uncompressed = await readAll((await Open.file(local)).files.filter((f) => wanted.has(f.path)));
const ms = performance.now() - started;
await rm(tmp, { recursive: true, force: true });
report({ ms, entries: chosen.picked.length, selectedBytes: chosen.bytes, archiveBytes: chosen.total, uncompressed });
s3.destroy();

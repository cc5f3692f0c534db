// The other kinds of data users send, generated from seeds like the reference
// directory: redundant sequence data, mostly compressed files, many tiny files;
// and the sizes of the memory cases (huge files, very many files).
import { mkdir, open, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cachedDir, FIXED_MTIME, prng, textBytes, writeRandomFile, writeTextFile } from "./data.mjs";

const MiB = 1024 * 1024;
const VERSION = 2;
const n = (count, scale) => Math.max(1, Math.round(count * scale));
const pad = (i, width) => String(i).padStart(width, "0");

/** One genome-length reference of random bases: the worst case for entropy coding, and exactly what deflate's window sees again. */
function genome(rand, length) {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = "ACGT".charCodeAt(Math.floor(rand() * 4));
  return b;
}

/**
 * An aligned-FASTA directory as a Nextstrain build takes it: batches of
 * records that are each the reference (29,903 bases, SARS-CoV-2's length)
 * with a few random substitutions, one sequence per line, and a metadata
 * table. About 300 MB at scale 1.
 */
export function sequenceDir(dataRoot, scale, log) {
  return cachedDir(dataRoot, `sequences-x${scale}`, VERSION, log, async (dir) => {
    const rand = prng(29903 + scale);
    const ref = genome(rand, 29903);
    const batches = n(8, scale);
    // Below one batch, the batch itself gets smaller.
    const perBatch = n(1250, Math.min(1, scale * 8));
    await mkdir(join(dir, "data"), { recursive: true });
    const meta = ["strain\tdate\tcountry\tsubstitutions"];
    for (let b = 0; b < batches; b++) {
      const fh = await open(join(dir, "data", `aligned-${pad(b, 2)}.fasta`), "w");
      try {
        for (let r = 0; r < perBatch; r++) {
          const name = `sample-${pad(b * perBatch + r, 6)}`;
          const seq = Buffer.from(ref);
          const subs = Math.floor(rand() * 12);
          for (let k = 0; k < subs; k++) seq[Math.floor(rand() * seq.length)] = "ACGT".charCodeAt(Math.floor(rand() * 4));
          const date = `2021-${pad(1 + Math.floor(rand() * 12), 2)}-${pad(1 + Math.floor(rand() * 28), 2)}`;
          meta.push(`${name}\t${date}\tcountry_${Math.floor(rand() * 60)}\t${subs}`);
          await fh.write(Buffer.concat([Buffer.from(`>${name}|${date}\n`), seq, Buffer.from("\n")]));
        }
      } finally {
        await fh.close();
      }
    }
    await writeFile(join(dir, "data", "metadata.tsv"), meta.join("\n") + "\n");
    await writeFile(join(dir, "data", "reference.fasta"), Buffer.concat([Buffer.from(">reference\n"), ref, Buffer.from("\n")]));
    await writeFile(join(dir, "Snakefile"), textBytes(rand, 6000));
    await touchAll(dir);
  });
}

/**
 * Mostly data that is already compressed: reads and alignments that say so
 * by name, the same kind of bytes under names that do not (.bin, .h5), some
 * images, and a little text. About 300 MB at scale 1.
 */
export function compressedDir(dataRoot, scale, log) {
  return cachedDir(dataRoot, `compressed-x${scale}`, VERSION, log, async (dir) => {
    const rand = prng(42 + scale);
    const groups = [
      ["reads", "fq.gz", n(10, scale), 12 * MiB],
      ["align", "bam", n(6, scale), 12 * MiB],
      ["arrays", "bin", n(4, scale), 12 * MiB],
      ["arrays", "h5", n(2, scale), 12 * MiB],
      ["plots", "png", n(60, scale), 300 * 1024],
    ];
    for (const [sub, ext, count, size] of groups) {
      await mkdir(join(dir, sub), { recursive: true });
      for (let i = 0; i < count; i++) await writeRandomFile(join(dir, sub, `part-${pad(i, 3)}.${ext}`), `compressed-${scale}-${ext}-${i}`, size);
    }
    await mkdir(join(dir, "tables"), { recursive: true });
    for (let i = 0; i < n(2, scale); i++) await writeTextFile(join(dir, "tables", `summary-${i}.tsv`), rand, 4 * MiB);
    await touchAll(dir);
  });
}

/** Many tiny files: 30,000 of 50 to 1,000 bytes in 300 directories at scale 1 (about 16 MB). */
export function tinyDir(dataRoot, scale, log) {
  return manyFiles(dataRoot, `tiny-x${scale}`, n(30_000, scale), n(300, scale), 50, 1000, log);
}

/** The memory case for file count: 200,000 small files (about 200 MB). */
export function manyFilesDir(dataRoot, count, log) {
  return manyFiles(dataRoot, `files-${count}`, count, Math.ceil(count / 100), 100, 2000, log);
}

function manyFiles(dataRoot, name, count, dirs, min, max, log) {
  return cachedDir(dataRoot, name, VERSION, log, (dir) => writeManyFiles(dir, count, dirs, min, max));
}

/** `count` text files of min to max bytes in `dirs` directories under `dir`, from a seed. */
export async function writeManyFiles(dir, count, dirs, min, max) {
  const rand = prng(count);
  for (let d = 0; d < dirs; d++) await mkdir(join(dir, `d${pad(d, 4)}`), { recursive: true });
  const text = textBytes(rand, 4 * MiB);
  // Written a few hundred at a time: one at a time takes minutes for 200,000.
  const batch = [];
  for (let i = 0; i < count; i++) {
    const size = min + Math.floor(rand() * (max - min));
    const at = Math.floor(rand() * (text.length - size));
    const path = join(dir, `d${pad(i % dirs, 4)}`, `f${pad(i, 6)}.txt`);
    batch.push(writeFile(path, text.subarray(at, at + size)).then(() => utimes(path, FIXED_MTIME, FIXED_MTIME)));
    if (batch.length >= 256) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
}

/**
 * One huge file in a directory of its own, for the memory cases: random
 * bytes (nothing shrinks them), or text that deflate shrinks 2.3x, made of
 * eight 16 MiB blocks in a seeded order (deflate sees only 32 KiB back, so
 * it cannot tell). Not cached: the caller removes it after use.
 */
export async function hugeFileDir(dataRoot, kind, size, log) {
  const dir = join(dataRoot, `huge-${kind}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  log(`generating a ${(size / 1024 ** 2).toFixed(0)} MiB ${kind} file in ${dir} ...`);
  const path = join(dir, kind === "random" ? "huge.bin" : "huge.tsv");
  if (kind === "random") await writeRandomFile(path, `huge-${size}`, size);
  else {
    const rand = prng(size % 2 ** 31);
    const blocks = Array.from({ length: 8 }, () => textBytes(rand, 16 * MiB));
    const fh = await open(path, "w");
    try {
      for (let done = 0; done < size; done += 16 * MiB) {
        const b = blocks[Math.floor(rand() * blocks.length)];
        await fh.write(b.subarray(0, Math.min(b.length, size - done)));
      }
    } finally {
      await fh.close();
    }
  }
  await utimes(path, FIXED_MTIME, FIXED_MTIME);
  return dir;
}

/** Fixed mtimes: a regenerated directory fingerprints alike. */
async function touchAll(dir) {
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) await utimes(join(e.parentPath ?? e.path, e.name), FIXED_MTIME, FIXED_MTIME);
  }
}

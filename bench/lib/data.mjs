// The reference directory: reproducible from a seed, cached under bench/data/.
import { createCipheriv, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";

const MiB = 1024 * 1024;
// Bump when the generator changes, so stale caches are regenerated.
const GENERATOR_VERSION = 2;
export const FIXED_MTIME = new Date("2024-06-01T12:00:00Z");

/** At scale 1: ~12 MB of small text, 128 MB of large text, 110 MB of .gz; about 250 MB in all. */
export function layout(scale) {
  const n = (count) => Math.max(1, Math.round(count * scale));
  return {
    smallFiles: n(1500),
    smallDirs: n(30),
    largeText: { count: n(8), size: 16 * MiB },
    gz: { count: n(10), size: 11 * MiB },
  };
}

/** mulberry32: small, fast, and the same on every machine. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (() => {
  const rand = prng(7);
  const letters = "etaoinshrdlucmfwypvbgkjqxz";
  return Array.from({ length: 2000 }, () => {
    const n = 2 + Math.floor(rand() * rand() * 10);
    let w = "";
    for (let i = 0; i < n; i++) w += letters[Math.floor(rand() * rand() * letters.length)];
    return w;
  });
})();

/** Log- and table-like text: deflate shrinks it about 2.3x (level 1) to 2.5x (level 6). */
export function textBytes(rand, size) {
  const parts = [];
  let length = 0;
  while (length < size) {
    const fields = [
      `2024-06-${String(1 + Math.floor(rand() * 28)).padStart(2, "0")}T${String(Math.floor(rand() * 24)).padStart(2, "0")}:${String(Math.floor(rand() * 60)).padStart(2, "0")}:${(rand() * 60).toFixed(3)}Z`,
      `sample_${Math.floor(rand() * 5000)}`,
      `chr${1 + Math.floor(rand() * 22)}`,
      String(Math.floor(rand() * 250_000_000)),
      (rand() * 100).toFixed(2),
    ];
    const words = 3 + Math.floor(rand() * 9);
    for (let i = 0; i < words; i++) fields.push(WORDS[Math.floor(rand() * rand() * WORDS.length)]);
    const line = fields.join("\t") + "\n";
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

/** Deterministic incompressible bytes: AES-CTR keystream from the seed. */
export async function writeRandomFile(path, seed, size) {
  const key = createHash("sha256").update(`nbatch-bench ${seed}`).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const fh = await open(path, "w");
  try {
    for (let done = 0; done < size; done += MiB) await fh.write(cipher.update(zeros.subarray(0, Math.min(MiB, size - done))));
  } finally {
    await fh.close();
  }
}

export async function writeTextFile(path, rand, size) {
  const fh = await open(path, "w");
  try {
    for (let done = 0; done < size; done += 4 * MiB) await fh.write(textBytes(rand, Math.min(4 * MiB, size - done)));
  } finally {
    await fh.close();
  }
}

/** The files of the reference directory, relative paths in generation order. */
export function listFiles(scale) {
  const l = layout(scale);
  const files = [];
  for (let i = 0; i < l.smallFiles; i++) files.push({ path: `src/d${String(i % l.smallDirs).padStart(3, "0")}/f${String(i).padStart(5, "0")}.txt`, kind: "small" });
  for (let i = 0; i < l.largeText.count; i++) files.push({ path: `data/table-${String(i).padStart(2, "0")}.tsv`, kind: "text", size: l.largeText.size });
  for (let i = 0; i < l.gz.count; i++) files.push({ path: `reads/sample-${String(i).padStart(2, "0")}.fq.gz`, kind: "gz", size: l.gz.size });
  return files;
}

/**
 * A generated directory under dataRoot, made once by `fill(dir)` and kept
 * between runs; `version` names the generator, so a changed one regenerates.
 */
export async function cachedDir(dataRoot, name, version, log, fill) {
  const dir = join(dataRoot, name);
  const stamp = join(dataRoot, `${name}.done`);
  if (existsSync(stamp) && (await readFile(stamp, "utf8")) === String(version)) return dir;
  log(`generating ${dir} ...`);
  await rm(dir, { recursive: true, force: true });
  await rm(stamp, { force: true });
  await mkdir(dir, { recursive: true });
  await fill(dir);
  await writeFile(stamp, String(version));
  return dir;
}

/** Generates (once) the directory for `scale` under dataRoot and returns its path. */
export function referenceDir(dataRoot, scale, log) {
  return cachedDir(dataRoot, `reference-x${scale}`, GENERATOR_VERSION, log, async (dir) => {
    const rand = prng(20240601 + scale);
    let n = 0;
    for (const f of listFiles(scale)) {
      const path = join(dir, f.path);
      await mkdir(join(path, ".."), { recursive: true });
      if (f.kind === "small") await writeFile(path, textBytes(rand, 1024 + Math.floor(rand() * 15 * 1024)));
      else if (f.kind === "text") await writeTextFile(path, rand, f.size);
      else await writeRandomFile(path, `${scale}-${n}`, f.size);
      await utimes(path, FIXED_MTIME, FIXED_MTIME);
      n++;
    }
  });
}

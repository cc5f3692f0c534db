/**
 * What may be taken from an archive, decided from its central directory
 * alone, and entries read with their size and CRC checked.
 */
import { pipeline } from "node:stream/promises";
import { UserError } from "../errors.js";
import type { EntryType, ManifestEntry } from "../tree/manifest.js";
import { Refusal, comparePaths, unsafeEntryName } from "../tree/paths.js";
import { inflateRawSync } from "node:zlib";
import { crc32, Crc32Meter } from "./crc32.js";
import { isMetadata } from "./metadata.js";
import { openZip, type ZipDirectory, type ZipRecord } from "./zip-reader.js";

/** An archive entry that passed every check that needs only the central directory. */
export interface PlannedEntry {
  record: ZipRecord;
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  mtimeMs: number;
}

/** Exact modes and times by path: a Map, or a table of many (tree/entry-table.ts). */
export interface EntriesByPath {
  get(path: string): ManifestEntry | undefined;
}

export interface PlanOptions {
  select?: (relPath: string) => boolean;
  meta?: EntriesByPath;
}

const MAX_METADATA_BYTES = 256 * 1024 ** 2;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
// setuid/setgid bits from an archive are dropped: an unpacked file should
// never gain privileges it did not have on the machine that made it.
export const MODE_MASK = 0o1777;

/**
 * Decide from the central directory alone what may be written: names,
 * duplicates, types, and entries that would pass through a symlink the
 * archive itself creates. Entries under .nbatch/ are metadata and skipped;
 * unselected ones are skipped silently. Sorted by path, so parents come
 * before their children. Nothing on disk is touched.
 */
export function planEntries(
  directory: ZipDirectory,
  opts: PlanOptions,
  refuse: (path: string, reason: string) => void,
): PlannedEntry[] {
  const seen = new Set<string>();
  const links = new Set<string>();
  const planned: PlannedEntry[] = [];
  for (const record of directory.records) {
    const unsafe = unsafeEntryName(record.path);
    if (unsafe) {
      refuse(record.path, unsafe);
      continue;
    }
    const path = record.path.replace(/\/$/, "");
    if (isMetadata(path)) continue;
    if (seen.has(path)) {
      refuse(path, "duplicate entry in the archive");
      continue;
    }
    seen.add(path);
    const { unixMode } = record;
    const format = unixMode & S_IFMT;
    const type: EntryType =
      record.path.endsWith("/") || format === S_IFDIR ? "dir" : format === S_IFLNK ? "symlink" : "file";
    if (type === "symlink") links.add(path);
    if (record.flags & 1) refuse(path, "encrypted entry");
    else if (record.method !== 0 && record.method !== 8) {
      refuse(path, `unsupported compression method ${record.method}`);
    } else if (!Number.isSafeInteger(record.size)) refuse(path, "invalid size");
    else if (!opts.select || opts.select(path)) {
      const meta = opts.meta?.get(path);
      const exact = meta?.type === type ? meta : undefined;
      const fallbackMode = type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644;
      const mode = exact?.mode ?? ((unixMode & 0o7777) || fallbackMode);
      const mtimeMs = exact?.mtimeMs ?? record.mtimeMs;
      planned.push({ record, path, type, size: record.size, mode: mode & MODE_MASK, mtimeMs });
    }
  }
  return planned
    .filter((p) => {
      const through = ancestors(p.path).find((a) => links.has(a));
      if (through !== undefined) refuse(p.path, `parent ${through} is a symlink in the archive`);
      return through === undefined;
    })
    .sort((a, b) => comparePaths(a.path, b.path));
}

function ancestors(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/** One entry's bytes, held in memory: only for small entries whose size was checked. */
export async function readVerified(record: ZipRecord, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const meter = new Crc32Meter(size, () => new Refusal("size mismatch: more data than the archive declares"));
  await pipeline(await record.open(), meter, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  verify(meter, record, size);
  return Buffer.concat(chunks);
}

/** Entries up to this size are read whole, by readSmall. */
export const SMALL_BYTES = 256 * 1024;

/**
 * A small entry's bytes, checked as readVerified checks them, inflated on
 * this thread in one call: a pipeline of streams for each of 100,000 small
 * files costs kilobytes of objects a file, and inflating on the threadpool
 * spreads what zlib allocates over an arena per thread.
 */
export async function readSmall(record: ZipRecord, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await record.openRaw()) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  let bytes = raw;
  try {
    if (record.method === 8) bytes = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new Refusal("size mismatch: more data than the archive declares");
    throw err;
  }
  if (bytes.length > size) throw new Refusal("size mismatch: more data than the archive declares");
  verify({ size: bytes.length, crc: crc32(bytes) }, record, size);
  return bytes;
}

export function verify(meter: { size: number; crc: number }, record: ZipRecord, size: number): void {
  if (meter.size !== size) throw new Refusal(`size mismatch: ${meter.size} bytes, the archive declares ${size}`);
  if (meter.crc !== record.crc32) throw new Refusal("CRC mismatch: the entry is corrupt");
}

/** A small metadata entry (such as .nbatch/results.json), CRC-checked; undefined when absent. */
export async function readZipEntry(archivePath: string, name: string): Promise<Buffer | undefined> {
  const directory = await openZip(archivePath);
  try {
    return await readEntry(directory, name, archivePath);
  } finally {
    directory.close();
  }
}

/** The same from any central directory (a local file, or ranged reads of an S3 object). */
export async function readEntry(directory: ZipDirectory, name: string, label: string): Promise<Buffer | undefined> {
  const record = directory.records.find((f) => f.path === name);
  if (!record) return undefined;
  if (record.size > MAX_METADATA_BYTES) {
    throw new UserError(`${name} in ${label} is larger than ${MAX_METADATA_BYTES} bytes: the archive is corrupt.`);
  }
  try {
    return await readVerified(record, record.size);
  } catch (err) {
    throw new UserError(`${name} in ${label} cannot be read (${(err as Error).message}): the archive is corrupt.`);
  }
}

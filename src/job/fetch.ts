/**
 * Fetching a run's results archive from S3 to a local file: whole, or, for a
 * --download selection, only the byte ranges of the wanted entries when that
 * costs less (docs/performance.md, "Selective download").
 */
import { open, statfs } from "node:fs/promises";
import { readEntry } from "../archive/entries.js";
import { rangesFor, type Range } from "../archive/ranges.js";
import { NotAZip, openZipSource, type ByteSource, type ZipDirectory } from "../archive/zip-reader.js";
import { byteSource, downloadToFile, s3Url, type S3, type S3Object } from "../aws/s3.js";
import { UserError } from "../errors.js";
import { eachLimited } from "../pool.js";
import { formatBytes } from "../ui/format.js";

/**
 * Each entry read on its own costs about a round trip, shared by the reads
 * running at once: at S3's 30 ms and 80 MiB/s per connection, 8 at a time,
 * as much as 300 KiB of transfer (docs/performance.md).
 */
export const ENTRY_COST_BYTES = 300 * 1024;
const CONCURRENCY = 8;

export type Progress = (done: number, total?: number) => void;

/** Ranged reads pay while the wanted bytes, with a round trip's worth per entry, stay under the whole. */
export function rangedPays(ranges: readonly Range[], size: number): boolean {
  const bytes = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  return bytes + (ranges.length - 1) * ENTRY_COST_BYTES < size;
}

export interface FetchOptions {
  /** The --download selection: only these entries are needed. */
  want?: (path: string) => boolean;
  onProgress?: Progress;
  signal?: AbortSignal;
  /** Checks there is room for this many bytes before any is written; it may throw. */
  room?: (bytes: number) => Promise<void>;
  /** The most entries the archive may hold (max-results-entries). */
  maxEntries?: number;
}

/**
 * Fetches the archive into `path`; false when there is none. With `want`,
 * it first reads the central directory with ranged GETs and, when that
 * pays, fetches only the wanted entries, each at its own offset in a sparse
 * file of the archive's size: the file then reads as the archive for every
 * wanted entry, so extraction checks it as it would the whole.
 */
export async function fetchArchive(s3: S3, obj: S3Object, path: string, opts: FetchOptions = {}): Promise<boolean> {
  if (opts.want) {
    const source = await byteSource(s3, obj);
    if (!source) return false;
    const directory = await openZipSource(source, s3Url(obj), opts.maxEntries).catch((err: unknown) => {
      // Not a zip: fetched whole, and refused with a clear message by extraction.
      if (err instanceof NotAZip) return undefined;
      throw err;
    });
    const ranges = directory && rangesFor(directory, opts.want);
    directory?.close();
    if (ranges && rangedPays(ranges, source.size)) {
      await opts.room?.(ranges.reduce((n, r) => n + (r.end - r.start), 0));
      await fetchRanges(source, path, ranges, opts.onProgress, opts.signal);
      return true;
    }
  }
  return downloadToFile(s3, obj, path, { onProgress: opts.onProgress, signal: opts.signal, beforeWrite: opts.room });
}

/** Fails unless the filesystem holding `dir` has `bytes` free for an unprivileged user. */
export async function checkRoom(dir: string, bytes: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) {
    throw new UserError(`the results archive needs ${formatBytes(bytes)} and the disk of ${dir} has ${formatBytes(free)} free: free some space`);
  }
}

/** Writes each range at its own offset in `path`, a sparse file of the source's size; 8 ranges at a time. */
export async function fetchRanges(source: ByteSource, path: string, ranges: readonly Range[], onProgress?: Progress, signal?: AbortSignal): Promise<void> {
  const total = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  let done = 0;
  const file = await open(path, "w", 0o600);
  try {
    await file.truncate(source.size);
    await eachLimited(ranges, CONCURRENCY, async ({ start, end }, stop) => {
      let at = start;
      const body = await source.read(start, end);
      // A stalled read would not notice a signal between chunks: the stream itself is ended.
      const abort = () => body.destroy(Object.assign(new Error("download aborted"), { name: "AbortError" }));
      signal?.addEventListener("abort", abort, { once: true });
      try {
        for await (const chunk of body) {
          if (stop.aborted) return; // another range failed: stop this one too
          const bytes = chunk as Buffer;
          if (at + bytes.length > end) throw new Error(`S3 sent more than the ${end - start} bytes asked for at offset ${start}`);
          for (let written = 0; written < bytes.length; ) {
            written += (await file.write(bytes, written, bytes.length - written, at + written)).bytesWritten;
          }
          at += bytes.length;
          onProgress?.((done += bytes.length), total);
        }
      } finally {
        signal?.removeEventListener("abort", abort);
      }
      if (at !== end) throw new Error(`S3 sent ${at - start} of the ${end - start} bytes asked for at offset ${start}`);
    });
  } finally {
    await file.close();
  }
}

/**
 * One small entry of a zip in S3, read with ranged GETs of its central
 * directory and the entry alone, not the whole (maybe huge) archive;
 * undefined when the archive or the entry does not exist.
 */
export async function readRemoteEntry(s3: S3, obj: S3Object, name: string): Promise<Buffer | undefined> {
  const source = await byteSource(s3, obj);
  if (!source) return undefined;
  let directory: ZipDirectory;
  try {
    directory = await openZipSource(source, s3Url(obj));
  } catch (err) {
    if (err instanceof NotAZip) throw new UserError(`${s3Url(obj)} is not a zip archive: it is corrupt.`);
    throw err;
  }
  try {
    return await readEntry(directory, name, s3Url(obj));
  } finally {
    directory.close();
  }
}

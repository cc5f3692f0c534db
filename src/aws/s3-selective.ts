import { open } from "node:fs/promises";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Open, type CentralDirectory } from "unzipper";
import { isNotFound, type S3Object } from "./s3.js";

/**
 * Each entry read on its own costs about a round trip, shared by the reads
 * running at once: at S3's 30 ms and 80 MiB/s per connection, 8 at a time,
 * as much as 300 KiB of transfer (docs/performance.md).
 */
export const ENTRY_COST_BYTES = 300 * 1024;
const CONCURRENCY = 8;

export interface Range {
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * The byte ranges a selective download needs from a zip of `size` bytes:
 * the central directory to the end, and each wanted entry from its local
 * header to the next entry (header, data, descriptor). Entries under
 * .nbatch/ (the agent's account of the run) are always wanted. Undefined
 * when the directory's offsets do not describe a sane layout: then the
 * whole archive is fetched, and checked, as usual.
 */
export function rangesFor(directory: CentralDirectory, size: number, want: (path: string) => boolean): Range[] | undefined {
  const cd = directory.offsetToStartOfCentralDirectory;
  if (!(cd >= 0 && cd < size)) return undefined;
  const byOffset = [...directory.files].sort((a, b) => a.offsetToLocalFileHeader - b.offsetToLocalFileHeader);
  const ranges: Range[] = [{ start: cd, end: size }];
  for (const [i, record] of byOffset.entries()) {
    const path = record.path.replace(/\/$/, "");
    if (!(path === ".nbatch" || path.startsWith(".nbatch/") || want(path))) continue;
    const start = record.offsetToLocalFileHeader;
    const end = byOffset[i + 1]?.offsetToLocalFileHeader ?? cd;
    if (!(start >= 0 && start < end && end <= cd)) return undefined;
    ranges.push({ start, end });
  }
  return ranges;
}

/** Ranged reads pay while the wanted bytes, with a round trip's worth per entry, stay under the whole. */
export function rangedPays(ranges: readonly Range[], size: number): boolean {
  const bytes = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  return bytes + (ranges.length - 1) * ENTRY_COST_BYTES < size;
}

export type Selected = "done" | "missing" | "whole";

/**
 * For a --download selection: reads the zip's central directory with ranged
 * GETs, and when that pays, fetches only the wanted entries into `path`, each
 * at its own offset in a sparse file of the archive's size. The file then
 * reads as the archive for every wanted entry, so extraction checks it as
 * it would the whole. "whole" when fetching everything costs less.
 */
export async function downloadSelected(
  s3: S3Client,
  obj: S3Object,
  path: string,
  want: (path: string) => boolean,
  onProgress?: (done: number, total?: number) => void,
): Promise<Selected> {
  const zip = await openRemoteZip(s3, obj);
  if (!zip) return "missing";
  if (zip === "unreadable") return "whole";
  const ranges = rangesFor(zip.directory, zip.size, want);
  if (!ranges || !rangedPays(ranges, zip.size)) return "whole";
  await fetchRanges(zip, path, ranges, onProgress);
  return "done";
}

export interface RemoteZip {
  size: number;
  directory: CentralDirectory;
  /** The bytes [start, end) of the object. */
  get(start: number, end: number): Promise<Readable>;
}

/**
 * A zip in S3 with its central directory read (a HeadObject and two ranged
 * GETs): undefined when there is no object, "unreadable" when its bytes do
 * not parse as a zip (the whole archive is then fetched and refused with a
 * clear message). Every read asks for the version HeadObject saw.
 */
export async function openRemoteZip(s3: S3Client, obj: S3Object): Promise<RemoteZip | "unreadable" | undefined> {
  let head;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: obj.bucket, Key: obj.key }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const size = head.ContentLength ?? 0;
  const get = async (start: number, end: number) =>
    (await s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key, Range: `bytes=${start}-${end - 1}`, IfMatch: head.ETag }))).Body as Readable;
  // unzipper pipes these streams on without listening for errors: a failed read ends
  // its stream instead, and the failure is reported here once the parse gives up.
  let failure: { error: unknown } | undefined;
  const source = {
    size: async () => size,
    stream: (offset: number, length?: number) => {
      const out = new PassThrough();
      const end = length ? Math.min(size, offset + length) : size;
      if (!(offset >= 0 && offset < end)) {
        out.end();
        return out;
      }
      get(offset, end)
        .then((body) => pipeline(body, out))
        .catch((error: unknown) => {
          failure ??= { error };
          out.end();
        });
      return out;
    },
  };
  try {
    return { size, directory: await Open.custom(source), get };
  } catch {
    if (failure) throw failure.error;
    return "unreadable";
  }
}

/** Writes each range of the zip at its own offset in `path`, a sparse file of the zip's size; 8 ranges at a time. */
export async function fetchRanges(zip: RemoteZip, path: string, ranges: readonly Range[], onProgress?: (done: number, total?: number) => void): Promise<void> {
  const total = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  let done = 0;
  const file = await open(path, "w", 0o600);
  try {
    await file.truncate(zip.size);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < ranges.length) {
        const { start, end } = ranges[next++]!;
        let at = start;
        for await (const chunk of await zip.get(start, end)) {
          if (failed) return; // another range failed: stop this one too
          const bytes = chunk as Buffer;
          if (at + bytes.length > end) throw new Error(`S3 sent more than the ${end - start} bytes asked for at offset ${start}`);
          for (let written = 0; written < bytes.length; ) {
            written += (await file.write(bytes, written, bytes.length - written, at + written)).bytesWritten;
          }
          at += bytes.length;
          onProgress?.((done += bytes.length), total);
        }
        if (at !== end) throw new Error(`S3 sent ${at - start} of the ${end - start} bytes asked for at offset ${start}`);
      }
    };
    // All settle before the file closes; the first failure is the one reported.
    const settled = await Promise.allSettled(
      Array.from({ length: Math.min(CONCURRENCY, ranges.length) }, () =>
        worker().catch((err: unknown) => {
          failed = true;
          throw err;
        }),
      ),
    );
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) throw failure.reason;
  } finally {
    await file.close();
  }
}

import { open } from "node:fs/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import type { CentralDirectory } from "unzipper";
import type { S3Object } from "./s3.js";
import { openRemoteZip, type RemoteZip } from "./s3-zip.js";

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

import { isMetadata } from "./metadata.js";
import type { ZipDirectory } from "./zip-reader.js";

export interface Range {
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * The byte ranges that hold a chosen part of a zip: the central directory
 * to the end, and each wanted entry from its local header to the next
 * entry (header, data, descriptor). nbatch's own metadata is always wanted.
 * Undefined when the directory's offsets do not describe a sane layout:
 * then the whole archive must be read, and checked, as usual.
 */
export function rangesFor(directory: ZipDirectory, want: (path: string) => boolean): Range[] | undefined {
  const { centralDirectoryOffset: cd, size } = directory;
  if (!(cd >= 0 && cd < size)) return undefined;
  const byOffset = [...directory.records].sort((a, b) => a.offset - b.offset);
  const ranges: Range[] = [{ start: cd, end: size }];
  for (const [i, record] of byOffset.entries()) {
    const path = record.path.replace(/\/$/, "");
    if (!(isMetadata(path) || want(path))) continue;
    const start = record.offset;
    const end = byOffset[i + 1]?.offset ?? cd;
    if (!(start >= 0 && start < end && end <= cd)) return undefined;
    ranges.push({ start, end });
  }
  return ranges;
}

/**
 * Reading zip archives: the central directory, then any entry's content as
 * a stream. yauzl does the reading (docs/performance.md, "The zip reader":
 * two packages where unzipper brought sixteen, stream errors that reach the
 * caller, and faster reads); this file gives its records the shape the rest
 * of nbatch checks, from a local file or from any source of byte ranges,
 * such as ranged GETs of an S3 object.
 */
import * as fs from "node:fs";
import { promisify } from "node:util";
import { PassThrough, type Readable } from "node:stream";
import yauzl from "yauzl";
import { UserError } from "../errors.js";
import { holdHeapFor } from "../heap.js";

export interface ZipRecord {
  /** The name as stored, decoded as UTF-8; checked before anything is written. */
  path: string;
  size: number;
  compressedSize: number;
  crc32: number;
  method: number;
  /** General purpose flags: bit 0 is encryption. */
  flags: number;
  /** Type and permission bits when the archive was made on Unix, else 0. */
  unixMode: number;
  mtimeMs: number;
  /** Where its local header starts. */
  offset: number;
  /** The content, inflated; its size and CRC are checked as it is read (archive/entries.ts). */
  open(): Promise<Readable>;
  /** The content as stored, deflated or not. */
  openRaw(): Promise<Readable>;
}

export interface ZipDirectory {
  records: ZipRecord[];
  /** Where the central directory starts, and the archive's size. */
  centralDirectoryOffset: number;
  size: number;
  close(): void;
}

/** Bytes [start, end) of something of a known size. */
export interface ByteSource {
  size: number;
  read(start: number, end: number): Promise<Readable>;
}

/** The bytes are not a zip archive nbatch can read. */
export class NotAZip extends UserError {}

const UNIX_HOST = 3;
// Names stay bytes and sizes unchecked: nbatch checks both itself (archive/entries.ts), refusing entry by entry.
const OPTIONS: yauzl.Options = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false };
type Opened = (err: Error | null, zip?: yauzl.ZipFile) => void;

/** The bytes are a zip archive, but with more entries than the reader was told to take. */
export class TooManyEntries extends UserError {}

export interface OpenOptions {
  /** What to call the archive in messages; the path by default. */
  label?: string;
  /**
   * Refuse an archive of more entries, before reading any: every entry of a
   * central directory is held in memory, about a kilobyte each, so an
   * untrusted archive must not choose how many.
   */
  maxEntries?: number;
}

/** A local archive, read through one descriptor (positioned reads: entries may be read at once). */
export async function openZip(path: string, opts: OpenOptions = {}): Promise<ZipDirectory> {
  const fd = await promisify(fs.open)(path, "r");
  const close = () => fs.close(fd, () => undefined);
  try {
    const { size } = await promisify(fs.fstat)(fd);
    const read = async (start: number, end: number) => fs.createReadStream("", { fd, start, end: end - 1, autoClose: false });
    const directory = await openZipSource({ size, read }, opts.label ?? path, opts.maxEntries);
    return { ...directory, close: () => (directory.close(), close()) };
  } catch (err) {
    close();
    throw err;
  }
}

export async function openZipSource(source: ByteSource, label: string, maxEntries = Infinity): Promise<ZipDirectory> {
  return directoryOf((done) => yauzl.fromRandomAccessReader(new SourceReader(source), source.size, OPTIONS, done), label, maxEntries);
}

async function directoryOf(open: (done: Opened) => void, label: string, maxEntries: number): Promise<ZipDirectory> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => open((err, z) => (err || !z ? reject(notAZip(err, label)) : resolve(z))));
  // The count comes from the end record; yauzl reads no more entries than it says, so this bounds what is read.
  if (zip.entryCount > maxEntries) {
    zip.close();
    throw new TooManyEntries(`${label} holds ${zip.entryCount} entries, more than the limit of ${maxEntries} (max-results-entries)`);
  }
  holdHeapFor(zip.entryCount);

  // Before the first entry is read, yauzl's cursor is where the central directory starts (not in its types).
  const centralDirectoryOffset = (zip as unknown as { readEntryCursor: number }).readEntryCursor;
  const records = await new Promise<ZipRecord[]>((resolve, reject) => {
    const all: ZipRecord[] = [];
    const blocks: Float64Array[] = [];
    zip.on("entry", (e: yauzl.Entry) => {
      all.push(new Record(zip, e, blocks, all.length));
      zip.readEntry();
    });
    zip.once("end", () => resolve(all));
    zip.once("error", reject);
    zip.readEntry();
  }).catch((err: unknown) => {
    zip.close();
    throw notAZip(err, label);
  });
  return { records, centralDirectoryOffset, size: zip.fileSize, close: () => zip.close() };
}

/** Records' numbers are kept in blocks of this many entries, eight numbers each. */
const BLOCK_RECORDS = 4096;
const FIELDS = 8;

/**
 * One entry as nbatch checks it, without yauzl's entry: that one holds its
 * name, extra fields and comment as buffers of their own, about 1 KB an
 * entry (110 MB for a results archive of 100,000 files). A record is its
 * name and a place in a block of numbers shared with its neighbours (9 MB
 * for 100,000 where an object of ten fields each took 18). What yauzl needs
 * to read the content is made again when it is opened.
 */
class Record implements ZipRecord {
  readonly path: string;
  private readonly block: Float64Array;
  private readonly at: number;

  constructor(
    private readonly zip: yauzl.ZipFile,
    e: yauzl.Entry,
    blocks: Float64Array[],
    index: number,
  ) {
    this.path = (e.fileName as unknown as Buffer).toString("utf8");
    if (index % BLOCK_RECORDS === 0) blocks.push(new Float64Array(FIELDS * BLOCK_RECORDS));
    this.block = blocks[blocks.length - 1]!;
    this.at = FIELDS * (index % BLOCK_RECORDS);
    const unixMode = e.versionMadeBy >> 8 === UNIX_HOST ? e.externalFileAttributes >>> 16 : 0;
    const mtimeMs = e.getLastModDate().getTime() || 0;
    this.block.set([e.uncompressedSize, e.compressedSize, e.crc32, e.compressionMethod, e.generalPurposeBitFlag, unixMode, mtimeMs, e.relativeOffsetOfLocalHeader], this.at);
  }

  get size(): number { return this.block[this.at]!; }
  get compressedSize(): number { return this.block[this.at + 1]!; }
  get crc32(): number { return this.block[this.at + 2]!; }
  get method(): number { return this.block[this.at + 3]!; }
  get flags(): number { return this.block[this.at + 4]!; }
  get unixMode(): number { return this.block[this.at + 5]!; }
  get mtimeMs(): number { return this.block[this.at + 6]!; }
  get offset(): number { return this.block[this.at + 7]!; }

  open(): Promise<Readable> {
    return this.zip.openReadStreamPromise(this.entry());
  }

  openRaw(): Promise<Readable> {
    // yauzl takes the option of deflated entries only; a stored entry is its raw bytes anyway.
    return this.zip.openReadStreamPromise(this.entry(), this.method === 0 ? {} : { decompress: false });
  }

  private entry(): yauzl.Entry {
    return Object.assign(new yauzl.Entry(), {
      compressedSize: this.compressedSize,
      uncompressedSize: this.size,
      compressionMethod: this.method,
      generalPurposeBitFlag: this.flags,
      relativeOffsetOfLocalHeader: this.offset,
      crc32: this.crc32,
    });
  }
}

/** A failure to read (the network, the disk) is that failure; anything else means the bytes are not a zip. */
function notAZip(err: unknown, label: string): unknown {
  if (typeof err === "object" && err !== null && FROM_SOURCE in err) return err;
  return new NotAZip(`${label} is not a readable zip archive (${(err as Error | null)?.message ?? "no archive"}).`, { cause: err });
}

const FROM_SOURCE = Symbol("nbatch.fromSource");

function fromSource(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  Object.defineProperty(e, FROM_SOURCE, { value: true, enumerable: false });
  return e;
}

/** Headers are read through blocks this large: a central directory of 100,000 entries is a few reads, not 200,000. */
const BLOCK = 1024 * 1024;

/**
 * yauzl's reader of byte ranges, over a ByteSource. yauzl reads each header
 * with two small reads; those are served from a block read ahead. A failed
 * read fails the stream that yauzl reads from, and yauzl passes that on.
 */
class SourceReader extends yauzl.RandomAccessReader {
  private block: { start: number; data: Promise<Buffer> } | undefined;

  constructor(private readonly source: ByteSource) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    let block = this.block;
    if (!block || position < block.start || position + length > block.start + BLOCK) {
      const end = Math.min(this.source.size, position + Math.max(length, BLOCK));
      block = this.block = { start: position, data: this.fetch(position, end) };
    }
    const { start } = block;
    block.data.then(
      (data) => {
        if (position + length > start + data.length) return callback(new Error("unexpected end of the archive"));
        data.copy(buffer, offset, position - start, position - start + length);
        callback(null);
      },
      (err: Error) => callback(err),
    );
  }

  private async fetch(start: number, end: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of await this.source.read(start, end)) chunks.push(chunk as Buffer);
    } catch (err) {
      throw fromSource(err);
    }
    return Buffer.concat(chunks);
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    this.source.read(start, end).then(
      (body) => {
        body.once("error", (err) => out.destroy(fromSource(err)));
        body.pipe(out);
      },
      (err: unknown) => out.destroy(fromSource(err)),
    );
    return out;
  }
}

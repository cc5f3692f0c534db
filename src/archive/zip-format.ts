/**
 * Byte layouts of the zip records nbatch writes (PKWARE APPNOTE 6.3):
 * local headers, data descriptors, central directory headers and the end
 * records, with zip64 where a size, an offset or the entry count needs it.
 */

import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;

/** General purpose flags: sizes and CRC follow the data; names are UTF-8. */
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;

const MADE_BY_UNIX = (3 << 8) | 63;
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
const ZIP64_EXTRA = 0x0001;
const TIMESTAMP_EXTRA = 0x5455;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const DOS_DIRECTORY = 0x10;

export type ZipKind = "file" | "dir" | "symlink";

/** What the central directory needs to know of one entry once its data is written. */
export interface EntryRecord {
  name: Buffer;
  kind: ZipKind;
  mode: number;
  mtimeMs: number;
  method: number;
  /** Sizes and CRC came after the data, in a data descriptor. */
  descriptor: boolean;
  /** The local header carried a zip64 extra field (and so the descriptor has 8-byte sizes). */
  zip64: boolean;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

/** The local header. With a descriptor, CRC and sizes are zero here and follow the data. */
export function localHeader(r: EntryRecord): Buffer {
  const sizes = r.zip64 ? [r.descriptor ? 0 : r.size, r.descriptor ? 0 : r.compressedSize] : [];
  const extra = TIMESTAMP_BYTES + zip64Bytes(sizes);
  // One buffer per header, written in place: a directory of many small files makes one per file.
  const b = Buffer.allocUnsafe(30 + r.name.length + extra);
  b.writeUInt32LE(0x04034b50, 0);
  b.writeUInt16LE(r.zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  b.writeUInt16LE(flags(r), 6);
  b.writeUInt16LE(r.method, 8);
  writeDosTime(b, 10, r.mtimeMs);
  b.writeUInt32LE(r.descriptor ? 0 : r.crc, 14);
  // zip64: the real sizes (zero until the descriptor) are in the extra field.
  b.writeUInt32LE(r.zip64 ? MAX32 : r.descriptor ? 0 : r.compressedSize, 18);
  b.writeUInt32LE(r.zip64 ? MAX32 : r.descriptor ? 0 : r.size, 22);
  b.writeUInt16LE(r.name.length, 26);
  b.writeUInt16LE(extra, 28);
  r.name.copy(b, 30);
  writeExtras(b, 30 + r.name.length, r.mtimeMs, sizes);
  return b;
}

export function dataDescriptor(r: EntryRecord): Buffer {
  const b = Buffer.alloc(r.zip64 ? 24 : 16);
  b.writeUInt32LE(0x08074b50, 0);
  b.writeUInt32LE(r.crc, 4);
  if (r.zip64) {
    b.writeBigUInt64LE(BigInt(r.compressedSize), 8);
    b.writeBigUInt64LE(BigInt(r.size), 16);
  } else {
    b.writeUInt32LE(r.compressedSize, 8);
    b.writeUInt32LE(r.size, 12);
  }
  return b;
}

/** zip64 fields appear in this order, each only when its 32-bit slot is full. */
function bigFields(r: EntryRecord): number[] {
  return [r.size, r.compressedSize, r.offset].filter((v) => v >= MAX32);
}

function centralHeaderSize(r: EntryRecord): number {
  return 46 + r.name.length + TIMESTAMP_BYTES + zip64Bytes(bigFields(r));
}

function writeCentralHeader(r: EntryRecord, b: Buffer, at: number): number {
  const big = bigFields(r);
  const extra = TIMESTAMP_BYTES + zip64Bytes(big);
  b.fill(0, at, at + 46);
  b.writeUInt32LE(0x02014b50, at);
  b.writeUInt16LE(MADE_BY_UNIX, at + 4);
  b.writeUInt16LE(r.zip64 || big.length ? VERSION_ZIP64 : VERSION_DEFAULT, at + 6);
  b.writeUInt16LE(flags(r), at + 8);
  b.writeUInt16LE(r.method, at + 10);
  writeDosTime(b, at + 12, r.mtimeMs);
  b.writeUInt32LE(r.crc, at + 16);
  b.writeUInt32LE(Math.min(r.compressedSize, MAX32), at + 20);
  b.writeUInt32LE(Math.min(r.size, MAX32), at + 24);
  b.writeUInt16LE(r.name.length, at + 28);
  b.writeUInt16LE(extra, at + 30);
  b.writeUInt32LE(externalAttributes(r.kind, r.mode), at + 38);
  b.writeUInt32LE(Math.min(r.offset, MAX32), at + 42);
  r.name.copy(b, at + 46);
  writeExtras(b, at + 46 + r.name.length, r.mtimeMs, big);
  return 46 + r.name.length + extra;
}

/**
 * The central directory as it grows, entry by entry: its bytes only, in
 * blocks of 1 MiB, so a finished entry keeps no object of its own. Past
 * a few blocks (tens of thousands of entries: 200,000 files make 15 MB),
 * full blocks go to a temporary file, unlinked as soon as it is opened, so
 * nothing is left behind whatever ends the process; where no temporary
 * file can be made, or it fills up, they stay in memory.
 */
export class CentralDirectory {
  private readonly blocks: Buffer[] = [];
  private block = Buffer.allocUnsafeSlow(CENTRAL_BLOCK);
  private used = 0;
  private spill: { fd: number; size: number } | undefined | null;
  count = 0;
  size = 0;

  add(r: EntryRecord): void {
    const length = centralHeaderSize(r);
    if (this.used + length > this.block.length) this.full(length);
    this.used += writeCentralHeader(r, this.block, this.used);
    this.count += 1;
    this.size += length;
  }

  /**
   * The directory's bytes, block by block, once every entry is added. With
   * `lend`, blocks read back from the temporary file share one buffer, for
   * a consumer that is done with each before it asks for the next (each is
   * a full block, large enough that Output passes it on, never holds it).
   */
  *bytes(lend: boolean): Generator<Buffer> {
    yield* this.blocks;
    yield* this.bytesSpilled(this.spill && lend ? Buffer.allocUnsafeSlow(CENTRAL_BLOCK) : undefined);
    yield this.block.subarray(0, this.used);
  }

  /** Gives up the temporary file, if any. */
  close(): void {
    if (this.spill) closeSync(this.spill.fd);
    this.spill = null;
  }

  private full(length: number): void {
    if (this.spill === undefined && this.blocks.length >= KEEP_BLOCKS) this.spill = spillFile();
    if (this.spill && length <= this.block.length) {
      try {
        writeFully(this.spill.fd, this.block.subarray(0, this.used), this.spill.size);
        this.spill.size += this.used;
        this.used = 0;
        return;
      } catch {
        // A full temporary directory: what went there comes back, and the rest stays in memory.
        this.blocks.push(...this.bytesSpilled());
        this.close();
      }
    }
    this.blocks.push(this.block.subarray(0, this.used));
    this.block = Buffer.allocUnsafeSlow(Math.max(CENTRAL_BLOCK, length));
    this.used = 0;
  }

  /** The blocks in the temporary file, read back; `shared` to read each into the same buffer. */
  private *bytesSpilled(shared?: Buffer): Generator<Buffer> {
    const spill = this.spill;
    for (let at = 0; spill && at < spill.size; ) {
      const length = Math.min(CENTRAL_BLOCK, spill.size - at);
      const b = shared ? shared.subarray(0, length) : Buffer.allocUnsafeSlow(length);
      const bytesRead = readSync(spill.fd, b, 0, b.length, at);
      if (bytesRead !== b.length) throw new Error("the central directory's temporary file came back short");
      at += bytesRead;
      yield b;
    }
  }
}

const CENTRAL_BLOCK = 1024 * 1024;
const KEEP_BLOCKS = 2;

/** An open temporary file with no name, or null when none can be made. */
function spillFile(): { fd: number; size: number } | null {
  const path = join(tmpdir(), `nbatch-central-${process.pid}-${randomBytes(6).toString("hex")}`);
  try {
    const fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
    return { fd, size: 0 };
  } catch {
    return null;
  }
}

function writeFully(fd: number, b: Buffer, position: number): void {
  for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done, position + done);
}

/** The end records: zip64 ones first when the count, size or offset overflow the classic fields. */
export function endOfArchive(count: number, cdOffset: number, cdSize: number): Buffer {
  const needs64 = count >= MAX16 || cdOffset >= MAX32 || cdSize >= MAX32;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(count, MAX16), 8);
  end.writeUInt16LE(Math.min(count, MAX16), 10);
  end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
  end.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
  if (!needs64) return end;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(MADE_BY_UNIX, 12);
  record.writeUInt16LE(VERSION_ZIP64, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(cdSize), 40);
  record.writeBigUInt64LE(BigInt(cdOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
  locator.writeUInt32LE(1, 16);
  if (count >= MAX16) end.fill(0xff, 8, 12);
  if (cdOffset >= MAX32) end.writeUInt32LE(MAX32, 16);
  return Buffer.concat([record, locator, end]);
}

function flags(r: EntryRecord): number {
  return FLAG_UTF8 | (r.descriptor ? FLAG_DESCRIPTOR : 0);
}

function externalAttributes(kind: ZipKind, mode: number): number {
  const type = kind === "dir" ? S_IFDIR : kind === "symlink" ? S_IFLNK : S_IFREG;
  return (((type | (mode & 0o7777)) << 16) | (kind === "dir" ? DOS_DIRECTORY : 0)) >>> 0;
}

const TIMESTAMP_BYTES = 9;

function zip64Bytes(values: readonly number[]): number {
  return values.length ? 4 + 8 * values.length : 0;
}

/**
 * The extra fields at `at`: the Unix mtime in whole seconds (readers such
 * as Info-ZIP's restore it exactly, unlike DOS time), then zip64 `values`
 * if any.
 */
function writeExtras(b: Buffer, at: number, mtimeMs: number, values: readonly number[]): void {
  b.writeUInt16LE(TIMESTAMP_EXTRA, at);
  b.writeUInt16LE(5, at + 2);
  b.writeUInt8(1, at + 4);
  b.writeInt32LE(Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.floor(mtimeMs / 1000))), at + 5);
  if (!values.length) return;
  const z = at + TIMESTAMP_BYTES;
  b.writeUInt16LE(ZIP64_EXTRA, z);
  b.writeUInt16LE(8 * values.length, z + 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), z + 4 + 8 * i));
}

/** DOS date and time in local time, as zip tools expect; clamped to the years DOS time can hold. */
function writeDosTime(b: Buffer, at: number, mtimeMs: number): void {
  const d = new Date(mtimeMs);
  const year = d.getFullYear();
  if (!(year >= 1980)) {
    b.writeUInt16LE(0, at);
    b.writeUInt16LE((1 << 5) | 1, at + 2);
    return;
  }
  const y = Math.min(year, 2107) - 1980;
  b.writeUInt16LE((d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1), at);
  b.writeUInt16LE((y << 9) | ((d.getMonth() + 1) << 5) | d.getDate(), at + 2);
}

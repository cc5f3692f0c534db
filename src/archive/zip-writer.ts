import { Readable } from "node:stream";
import { BufferPool, Output } from "./zip-buffers.js";
import { crc32, deflateChunk, storedBlocks } from "./zip-deflate.js";
import { PieceWindow } from "./zip-window.js";
import type { Deflate, Pacer } from "./zip-pace.js";
import {
  CentralDirectory,
  dataDescriptor,
  endOfArchive,
  localHeader,
  METHOD_DEFLATE,
  METHOD_STORE,
  type EntryRecord,
  type ZipKind,
} from "./zip-format.js";

/**
 * Random access to one entry's content. `read` resolves exactly `length`
 * bytes or rejects; given a `target` of that length it should read into it
 * (the writer reuses such buffers), but may answer with another buffer.
 */
export interface ZipSource {
  read(position: number, length: number, target?: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ZipInput {
  /** Relative POSIX path; directories get their trailing slash from the writer. */
  name: string;
  kind: ZipKind;
  mode: number;
  mtimeMs: number;
  /** Bytes of content: a file's size, a symlink target's length. */
  size: number;
  /** Deflate this entry; false stores it as is. */
  compress: boolean;
  /**
   * Content held in memory (symlink targets, metadata); otherwise `open` is
   * called when its turn comes. A function is called once every entry before
   * it is written, so it can tell what they held (the agent's results.json).
   */
  data?: Buffer | (() => Buffer);
  open?: () => Promise<ZipSource>;
  /** Hears the entry's content, in order, as it is written (a hash of it while it is packed). */
  onContent?: (chunk: Buffer, whole: boolean) => void;
  /**
   * The whole content of a file of one chunk or less, exactly `size` bytes,
   * read when its turn comes: for small files, cheaper than a source.
   */
  load?: () => Buffer | Promise<Buffer>;
}

/**
 * A read failure that costs one entry, not the archive: the entry is left
 * out (or, when its first bytes are already written, ended there) and the
 * writer's `skipped` hears the path and why. The agent's sources throw these.
 */
export class SkipEntry extends Error {}

export interface ZipEvents {
  skipped?(name: string, reason: string): void;
  /** An entry is written: its local header starts at `offset`, its data ends at `end` (before any data descriptor). */
  written?(input: ZipInput, offset: number, end: number, crc: number): void;
}

/**
 * Files are cut into chunks that are deflated independently on the libuv
 * threadpool, each primed with the 32 KiB before it, and joined with sync
 * flushes: one valid deflate stream, made on every core (pigz's method).
 */
export const CHUNK_SIZE = 1024 * 1024;
const DICTIONARY_SIZE = 32 * 1024;
// Enough read-ahead to keep every pool thread deflating while earlier output
// is written; more bytes only add memory (docs/performance.md). Many pieces
// are allowed so that small files, each a piece, are read many at a time.
const WINDOW_PIECES = 24;
const WINDOW_BYTES = 6 * 1024 * 1024;
// Deflate can grow incompressible data by a few bytes per block; entries this
// large get zip64 sizes up front, so their compressed size can never overflow.
const ZIP64_ENTRY_SIZE = 0xff000000;
const EMPTY = Buffer.alloc(0);
const settled = () => undefined;

interface Piece {
  input: ZipInput;
  /** Set for content made when its turn comes (a function as data), with the setting to deflate it with. */
  late?: Deflate;
  /** The reusable buffer the piece was read into, if it was. */
  pooled?: Buffer;
  /** Deflated (the entry's first piece sets its method), or stored. */
  deflated: boolean;
  first: boolean;
  last: boolean;
  bytes: number;
  raw: Promise<Buffer>;
  out: Promise<Buffer[]>;
}

/**
 * A zip archive of `inputs`, in order, as a stream; reading and deflating
 * run ahead of the consumer, boundedly. `pace` sets how hard each chunk is
 * compressed and hears how long each side waited for the other.
 */
export function zipStream(inputs: Iterable<ZipInput>, pace: Pacer, events: ZipEvents = {}): Readable {
  const { window, pool } = start(inputs, pace, false);
  const stream = Readable.from(serialize(window, pool, pace, false, events), { objectMode: false });
  // Also covers a stream destroyed before anyone read from it.
  stream.once("close", () => window.end());
  return stream;
}

/**
 * The same archive as chunks that are lent, not given: each is valid only
 * until the next is asked for, since the writer then reads into its memory
 * again. For a consumer that copies what it gets (the uploader), this
 * spares a fresh buffer, and the collector's work, per stored megabyte.
 */
export async function* zipChunks(inputs: Iterable<ZipInput>, pace: Pacer, events: ZipEvents = {}): AsyncGenerator<Buffer> {
  const { window, pool } = start(inputs, pace, true);
  yield* serialize(window, pool, pace, true, events);
}

function start(inputs: Iterable<ZipInput>, pace: Pacer, lend: boolean): { window: PieceWindow<Piece>; pool: BufferPool } {
  const window = new PieceWindow<Piece>(WINDOW_PIECES, WINDOW_BYTES);
  const pool = new BufferPool(CHUNK_SIZE + DICTIONARY_SIZE, Math.ceil(WINDOW_BYTES / CHUNK_SIZE) + 2);
  produce(inputs, window, pool, pace, lend).then(
    () => window.end(),
    (err: unknown) => window.fail(err),
  );
  return { window, pool };
}

async function produce(inputs: Iterable<ZipInput>, window: PieceWindow<Piece>, pool: BufferPool, pace: Pacer, lend: boolean): Promise<void> {
  for (const input of inputs) {
    if (input.kind === "dir" || input.data !== undefined || input.size === 0 || (input.load && input.size <= CHUNK_SIZE)) {
      const wait = window.room(input.size);
      if (wait) await wait;
      if (window.closed) return;
      window.push(onePiece(input, pace));
      continue;
    }
    const chunks = Math.ceil(input.size / CHUNK_SIZE);
    let source: Promise<ZipSource> | undefined;
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < chunks; i++) {
      const start = i * CHUNK_SIZE;
      const length = Math.min(CHUNK_SIZE, input.size - start);
      const wait = window.room(length);
      if (wait) await wait;
      if (window.closed) break;
      source ??= input.open!();
      const last = i === chunks - 1;
      // A one-chunk file that comes up "store" is a stored entry. A larger one is
      // always a deflate entry, so its later chunks can follow the pace: any chunk
      // may be stored blocks, framed here without zlib.
      const setting = input.compress ? pace.choose(length, i === 0) : undefined;
      const deflated = !!setting && (chunks > 1 || setting.level > 0);
      const compress = deflated && setting.level > 0;
      const dict = compress ? Math.min(DICTIONARY_SIZE, start) : 0;
      // Reused buffers hold chunks that never leave the writer (they are deflated), or, when the
      // chunks are lent, whole chunks that leave as they are and are back once the next is asked for.
      const reuse = length === CHUNK_SIZE && (compress || (lend && !deflated));
      const pooled = reuse ? pool.take().subarray(0, length + dict) : undefined;
      const buf = source.then((s) => s.read(start - dict, length + dict, pooled));
      const raw = buf.then((b) => b.subarray(dict));
      const out = compress ? buf.then((b) => paced(pace, b, dict, last, setting)) : deflated ? raw.then((b) => storedBlocks(b, last)) : raw.then((b) => [b]);
      // Only that the read settled: a promise of the buffer itself would keep every chunk of the file alive.
      reads.push(buf.then(settled, settled));
      window.push(quiet({ input, pooled, deflated, first: i === 0, last, bytes: length, raw, out }));
    }
    if (source) {
      const opened = source;
      void Promise.all(reads).then(() => opened).then((s) => s.close()).catch(() => undefined);
    }
    if (window.closed) return;
  }
}

/** An entry written in one piece: a directory, content held or made late, or a small file read whole. */
function onePiece(input: ZipInput, pace: Pacer): Piece {
  const late = typeof input.data === "function";
  const setting = input.compress && (input.size > 0 || late) ? pace.choose(input.size, true) : undefined;
  const deflated = !!setting && setting.level > 0;
  if (late) return { input, late: deflated ? setting : undefined, deflated, first: true, last: true, bytes: 0, raw: NOT_YET, out: NOT_YET };
  const { load } = input;
  // A load that throws (a file that vanished, a SkipEntry) fails the piece, not the producer.
  const raw = load && input.size > 0 ? new Promise<Buffer>((resolve) => resolve(load())) : Promise.resolve((input.data as Buffer | undefined) ?? EMPTY);
  const out = deflated ? raw.then((b) => paced(pace, b, 0, true, setting)) : raw.then((b) => [b]);
  return quiet({ input, deflated, first: true, last: true, bytes: input.size, raw, out });
}

/** Headers, data and descriptors in entry order, then the central directory. */
async function* serialize(window: PieceWindow<Piece>, pool: BufferPool, pace: Pacer, lend: boolean, events: ZipEvents): AsyncGenerator<Buffer> {
  const out = new Output();
  const central = new CentralDirectory();
  let record: EntryRecord | undefined;
  let skipping: ZipInput | undefined;
  try {
    for (let piece = await window.take(); piece; piece = await window.take()) {
      if (piece.late) makeNow(piece, pace, piece.late);
      else if (piece.raw === NOT_YET) makeNow(piece, pace);
      let raw: Buffer;
      let deflated: Buffer[];
      try {
        raw = await piece.raw;
        // Waiting on a read is the disk's doing; waiting after it, deflate's.
        const start = performance.now();
        deflated = await piece.out;
        if (piece.deflated) pace.starved(performance.now() - start);
      } catch (err) {
        if (!(err instanceof SkipEntry)) throw err;
        window.release(piece);
        if (piece.pooled) pool.give(piece.pooled);
        if (skipping === piece.input) continue;
        skipping = piece.input;
        // Its first bytes are out: the entry ends where they do, as a valid (short) entry.
        if (!piece.first) central.add(endShort(out, record!));
        events.skipped?.(piece.input.name, err.message);
        continue;
      }
      window.release(piece);
      if (skipping === piece.input) {
        if (piece.pooled) pool.give(piece.pooled);
        continue;
      }
      const { input } = piece;
      input.onContent?.(raw, piece.first && piece.last);
      let data = deflated;
      let dataBytes = deflated.reduce((n, b) => n + b.length, 0);
      if (piece.first) {
        const whole = piece.last;
        // A one-piece entry that deflate would not shrink is stored instead.
        const deflate = piece.deflated && !(whole && dataBytes >= raw.length);
        if (whole && !deflate) {
          data = [raw];
          dataBytes = raw.length;
        }
        record = {
          name: Buffer.from(input.kind === "dir" ? `${input.name}/` : input.name, "utf8"),
          kind: input.kind,
          mode: input.mode,
          mtimeMs: input.mtimeMs,
          method: deflate ? METHOD_DEFLATE : METHOD_STORE,
          descriptor: !whole,
          zip64: input.size >= ZIP64_ENTRY_SIZE,
          crc: whole ? crc32(raw) : 0,
          compressedSize: whole ? dataBytes : 0,
          size: whole ? raw.length : 0,
          offset: out.total,
        };
        out.add(localHeader(record));
      }
      const r = record!;
      if (r.descriptor) {
        r.crc = crc32(raw, r.crc);
        r.size += raw.length;
        r.compressedSize += dataBytes;
      }
      for (const b of data) out.add(b);
      // A read buffer sent downstream itself is reused only when lent, and only once the reader is done with it.
      const sent = data[0] === raw;
      if (piece.pooled && !sent) pool.give(piece.pooled);
      if (piece.last) {
        events.written?.(input, r.offset, out.total, r.crc);
        if (r.descriptor) out.add(dataDescriptor(r));
        central.add(r);
      }
      for (const b of out.drain(false)) {
        // While the generator sits here, the archive's reader is not asking for more.
        const start = performance.now();
        yield b;
        pace.blocked(performance.now() - start);
        pace.sent(b.length);
      }
      if (piece.pooled && sent && lend) pool.give(piece.pooled);
    }
    const cdOffset = out.total;
    for (const b of central.bytes(lend)) {
      out.add(b);
      yield* out.drain(false);
    }
    out.add(endOfArchive(central.count, cdOffset, central.size));
    yield* out.drain(true);
  } finally {
    // Normal end, failure, or the consumer gave up: stop reading ahead.
    window.end();
    central.close();
  }
}

/** For content made when its turn comes: the promises a piece waits on until then. */
const NOT_YET: Promise<never> = new Promise(() => undefined);

function makeNow(piece: Piece, pace: Pacer, setting?: Deflate): void {
  const data = piece.input.data;
  const raw = Promise.resolve(typeof data === "function" ? data() : (data ?? EMPTY));
  piece.raw = raw;
  piece.out = setting ? raw.then((b) => paced(pace, b, 0, true, setting)) : raw.then((b) => [b]);
  quiet(piece);
}

/** A deflate that tells the pacer what it took and what it gave. */
function paced(pace: Pacer, buf: Buffer, dict: number, last: boolean, setting: Deflate): Promise<Buffer[]> {
  // A first chunk of several has no history before it to prime the window with.
  const done = pace.deflating(setting, buf.length - dict, dict === 0 && !last);
  return deflateChunk(buf, dict, last, setting).then((out) => {
    done(out.reduce((n, b) => n + b.length, 0));
    return out;
  });
}

/** Ends an entry whose source failed partway: a final empty deflate block, then the descriptor of what was written. */
function endShort(out: Output, r: EntryRecord): EntryRecord {
  if (r.method === METHOD_DEFLATE) {
    for (const b of storedBlocks(EMPTY, true)) {
      out.add(b);
      r.compressedSize += b.length;
    }
  }
  out.add(dataDescriptor(r));
  return r;
}

/** Failures surface when the piece's turn comes; until then they must not count as unhandled. */
function quiet(piece: Piece): Piece {
  piece.raw.catch(() => undefined);
  piece.out.catch(() => undefined);
  return piece;
}

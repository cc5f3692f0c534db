/**
 * Reading chosen entries of a zip by where they lie, without its central
 * directory: each wanted entry's local header offset and the end of its data
 * are known (a protocol 2 tree says them), so one ranged read streams a run
 * of neighbouring entries straight into their files, each inflated and
 * checked against the size and CRC-32 it must have.
 */
import { Readable, type Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { createInflateRaw, inflateRawSync } from "node:zlib";
import { Refusal } from "../tree/paths.js";
import { crc32, Crc32Meter } from "./crc32.js";
import { METHOD_DEFLATE, METHOD_STORE } from "./zip-format.js";
import type { ByteSource } from "./zip-reader.js";

export interface Wanted {
  /** Its local header. */
  offset: number;
  /** The end of its data. */
  end: number;
  size: number;
  crc32: number;
}

/** A run of wanted entries read with one request. */
export interface Span {
  start: number;
  end: number;
  entries: Wanted[];
}

const LOCAL_HEADER = 0x04034b50;
const EMPTY = Buffer.alloc(0);

/**
 * Groups wanted entries into spans: a gap of up to `gap` bytes is read
 * through rather than paid for with another request, and a span ends once it
 * holds `maxBytes`, so a large pack is read over several connections at once.
 */
export function spansOf(wanted: readonly Wanted[], gap: number, maxBytes: number): Span[] {
  const spans: Span[] = [];
  let span: Span | undefined;
  for (const w of [...wanted].sort((a, b) => a.offset - b.offset)) {
    if (span && w.offset - span.end <= gap && span.end - span.start < maxBytes) {
      span.entries.push(w);
      span.end = Math.max(span.end, w.end);
    } else spans.push((span = { start: w.offset, end: w.end, entries: [w] }));
  }
  return spans;
}

/** Writes one entry's content into `dest`, checked; rejects on any mismatch. */
export type Deliver = (dest: Writable) => Promise<void>;

/**
 * Reads the span's entries in order from one ranged read, handing each to
 * `take` with the means to write it; a caller whose transfer broke off
 * knows from its `take`s where to go on.
 */
export async function readSpan(source: ByteSource, span: Span, take: (w: Wanted, deliver: Deliver) => Promise<void>): Promise<void> {
  const pull = new Pull((await source.read(span.start, span.end))[Symbol.asyncIterator]());
  try {
    let at = span.start;
    for (const w of span.entries) {
      if (w.offset < at) throw new Refusal(`entries overlap at offset ${w.offset}`);
      await pull.skip(w.offset - at);
      const header = await pull.take(30);
      if (header.readUInt32LE(0) !== LOCAL_HEADER) throw new Refusal(`no zip entry at offset ${w.offset}`);
      const method = header.readUInt16LE(8);
      const skip = header.readUInt16LE(26) + header.readUInt16LE(28);
      const length = w.end - (w.offset + 30 + skip);
      if (length < 0) throw new Refusal(`the entry at offset ${w.offset} ends before its data starts`);
      if (method !== METHOD_STORE && method !== METHOD_DEFLATE) throw new Refusal(`unsupported compression method ${method}`);
      await pull.skip(skip);
      await take(w, async (dest) => {
        if (length <= WHOLE_BYTES && w.size <= WHOLE_BYTES) return deliverWhole(await pull.take(length), method, w, dest);
        const meter = new Crc32Meter(w.size, () => new Refusal("more data than the tree declares"));
        const data = Readable.from(pull.slice(length), { objectMode: false });
        await (method === METHOD_DEFLATE ? pipeline(data, createInflateRaw(), meter, dest) : pipeline(data, meter, dest));
        if (meter.size !== w.size) throw new Refusal(`${meter.size} bytes where the tree declares ${w.size}`);
        if (meter.crc !== w.crc32) throw new Refusal("CRC mismatch: the bytes are not those the tree names");
      });
      at = w.end;
    }
  } finally {
    await pull.close();
  }
}

/**
 * Small entries, most of a directory of many files, are inflated and
 * checked in one call each, not through a pipeline of four streams: those
 * cost some kilobytes of objects a file, 200,000 times over.
 */
const WHOLE_BYTES = 256 * 1024;

async function deliverWhole(data: Buffer, method: number, w: Wanted, dest: Writable): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = method === METHOD_DEFLATE ? inflateRawSync(data, { maxOutputLength: Math.max(w.size, 1) }) : data;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new Refusal("more data than the tree declares");
    throw err;
  }
  if (bytes.length > w.size) throw new Refusal("more data than the tree declares");
  if (bytes.length !== w.size) throw new Refusal(`${bytes.length} bytes where the tree declares ${w.size}`);
  if (crc32(bytes) !== w.crc32) throw new Refusal("CRC mismatch: the bytes are not those the tree names");
  dest.end(bytes);
  await finished(dest);
}

/** Exact reads from a stream of chunks. */
class Pull {
  private buf: Buffer = EMPTY;

  constructor(private readonly it: AsyncIterator<unknown>) {}

  private async fill(): Promise<void> {
    const next = await this.it.next();
    if (next.done) throw new Refusal("the pack ended early");
    const chunk = next.value as Buffer;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.fill();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.slice(n)) void _;
  }

  async *slice(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (!this.buf.length) await this.fill();
      const k = Math.min(n, this.buf.length);
      const out = this.buf.subarray(0, k);
      this.buf = this.buf.subarray(k);
      n -= k;
      yield out;
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

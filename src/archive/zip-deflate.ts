import * as zlib from "node:zlib";
import type { Deflate } from "./zip-pace.js";

const DEFLATE_OUT_CHUNK = 128 * 1024;

export { crc32 } from "./crc32.js";

/**
 * Deflates `buf` after its first `dict` bytes, which prime the window as
 * the history before it, on the libuv threadpool. A last chunk ends the
 * deflate stream; any other ends with a sync flush, so the next chunk's
 * output can follow it. The output comes as 128 KiB buffers: few trips to
 * the threadpool, and no room allocated that the output never uses.
 */
export function deflateChunk(buf: Buffer, dict: number, last: boolean, setting: Deflate): Promise<Buffer[]> {
  if (!dict && last && buf.length <= WHOLE_MAX) return deflateWhole(buf, setting);
  const input = buf.length - dict;
  return new Promise((resolve, reject) => {
    const z = zlib.createDeflateRaw({
      ...setting,
      chunkSize: Math.min(DEFLATE_OUT_CHUNK, input + (input >> 6) + 1024),
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
      ...(dict ? { dictionary: buf.subarray(0, dict) } : {}),
    });
    const out: Buffer[] = [];
    z.on("data", (c: Buffer) => out.push(c));
    z.once("end", () => resolve(out));
    z.once("error", reject);
    z.end(buf.subarray(dict));
  });
}

// A small file is deflated whole, in one write that ends its deflate stream,
// by a stream that is then reset and used again. A new stream for each
// costs an allocation of its 256 KiB of state, a clearing of its tables
// and a second trip to the threadpool to end it: 30,000 deflates of a few
// hundred bytes took 6 s that way and 0.85 s this way, and the freed state
// left memory in malloc's arenas (docs/performance.md, "Many files").
const WHOLE_MAX = 64 * 1024;
const WHOLE_OUT = WHOLE_MAX + (WHOLE_MAX >> 6) + 1024;
const IDLE_PER_SETTING = 4;
const idle = new Map<string, zlib.DeflateRaw[]>();

function deflateWhole(buf: Buffer, setting: Deflate): Promise<Buffer[]> {
  const key = `${setting.level}:${setting.strategy ?? ""}`;
  const free = idle.get(key) ?? idle.set(key, []).get(key)!;
  // Its failure reaches the write's callback; the event is only not to go unheard.
  const z = free.pop() ?? zlib.createDeflateRaw({ ...setting, chunkSize: WHOLE_OUT, flush: zlib.constants.Z_FINISH }).on("error", () => undefined);
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    z.on("data", onData);
    z.write(buf, (err) => {
      z.off("data", onData);
      // A stream that failed is not used again.
      if (err || z.destroyed) return reject(err ?? new Error("deflate stream closed"));
      z.reset();
      if (free.length < IDLE_PER_SETTING) free.push(z);
      else z.close();
      resolve(out);
    });
  });
}

const STORED_BLOCK = 0xffff;

/**
 * `data` as deflate stored blocks (RFC 1951 3.2.4), the last one final if
 * `last`: the store setting inside a deflate entry, without copying the
 * data or a trip to zlib. It follows a sync flush or starts the stream, so
 * it begins on a byte boundary.
 */
export function storedBlocks(data: Buffer, last: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length || (at === 0 && last); at += STORED_BLOCK) {
    const len = Math.min(STORED_BLOCK, data.length - at);
    const header = Buffer.alloc(5);
    header[0] = last && at + len >= data.length ? 1 : 0;
    header.writeUInt16LE(len, 1);
    header.writeUInt16LE(~len & 0xffff, 3);
    out.push(header, data.subarray(at, at + len));
    if (len === 0) break;
  }
  return out;
}

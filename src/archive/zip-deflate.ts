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

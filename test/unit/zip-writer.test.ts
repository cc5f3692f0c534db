import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { PassThrough, Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { crc32 as nativeCrc32, inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readVerified } from "../../src/archive/entries.js";
import { openZipSource, type ByteSource, type ZipRecord } from "../../src/archive/zip-reader.js";
import { crc32 } from "../../src/archive/crc32.js";
import { storedBlocks } from "../../src/archive/zip-deflate.js";
import { fixedPace, LADDER, type Pacer } from "../../src/archive/zip-pace.js";
import { CHUNK_SIZE, zipChunks, zipStream, type ZipInput, type ZipSource } from "../../src/archive/zip-writer.js";

const MTIME = Date.UTC(2024, 5, 1, 12, 0, 0);

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function memorySource(data: Buffer, reads: { position: number; length: number }[] = []): () => Promise<ZipSource> {
  return async () => ({
    async read(position, length) {
      reads.push({ position, length });
      return data.subarray(position, position + length);
    },
    async close() {},
  });
}

function file(name: string, data: Buffer, compress = true): ZipInput {
  return { name, kind: "file", mode: 0o644, mtimeMs: MTIME, size: data.length, compress, open: memorySource(data) };
}

function text(bytes: number): Buffer {
  const line = "the quick brown fox jumps over the lazy dog 0123456789\n";
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length))).subarray(0, bytes);
}

async function entries(zip: Buffer): Promise<ZipRecord[]> {
  const source: ByteSource = { size: zip.length, read: async (start, end) => Readable.from([zip.subarray(start, end)]) };
  return (await openZipSource(source, "the test archive")).records;
}

/** Where an open descriptor's link points; "" once it is closed. */
function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** The general purpose flags of the local header at `offset`. */
const localFlags = (zip: Buffer, offset: number) => zip.readUInt16LE(offset + 6);

describe("zipStream", () => {
  it("deflates a multi-chunk file in parallel pieces that inflate to the original, with a data descriptor", async () => {
    const data = Buffer.concat([text(2 * CHUNK_SIZE), randomBytes(CHUNK_SIZE / 2), text(CHUNK_SIZE)]);
    const zip = await collect(zipStream([file("big.txt", data)], fixedPace(6)));
    const [entry] = await entries(zip);
    expect(entry!.method).toBe(8);
    expect(entry!.size).toBe(data.length);
    expect(entry!.compressedSize).toBeLessThan(data.length / 2);
    expect(localFlags(zip, 0) & 0x8).toBe(0x8);
    const start = 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
    expect(inflateRawSync(zip.subarray(start, start + entry!.compressedSize)).equals(data)).toBe(true);
    expect((await readVerified(entry!, data.length)).equals(data)).toBe(true);
  });

  it("follows the pace chunk by chunk inside one deflate entry, storing blocks where it says store", async () => {
    const data = Buffer.concat([text(3 * CHUNK_SIZE), randomBytes(CHUNK_SIZE), text(CHUNK_SIZE - 77)]);
    // Each chunk takes the next setting: store, level 6, Huffman-only, store, level 9.
    const settings = [LADDER[0], LADDER[3], LADDER[1], LADDER[0], LADDER[4]];
    let next = 0;
    const used: unknown[] = [];
    const ignore = () => undefined;
    const pace: Pacer = {
      choose: () => (used.push(settings[next]), settings[next++ % settings.length]!),
      deflating: () => ignore,
      starved: ignore,
      blocked: ignore,
      sent: ignore,
      uploaded: ignore,
    };
    const zip = await collect(zipStream([file("mixed.txt", data)], pace));
    expect(used).toEqual(settings);
    const [entry] = await entries(zip);
    expect(entry!.method).toBe(8);
    expect(entry!.compressedSize).toBeLessThan(data.length);
    expect((await readVerified(entry!, data.length)).equals(data)).toBe(true);
  });

  it("lends chunks that reuse the writer's buffers, making the same archive as the stream", async () => {
    // Stored whole chunks are what gets lent; a buffer source fresh per read shows the reuse by identity.
    const make = (): ZipInput[] => [
      { ...file("a.bin", Buffer.alloc(0)), size: 12 * CHUNK_SIZE, compress: false, open: async () => ({ read: async (p, l, t) => fill(t ?? Buffer.alloc(l), p), close: async () => {} }) },
      file("b.txt", text(3 * CHUNK_SIZE)),
    ];
    const fill = (buf: Buffer, position: number) => buf.fill(position / CHUNK_SIZE);
    const copies: Buffer[] = [];
    const memory = new Set<ArrayBufferLike>();
    let lent = 0;
    for await (const chunk of zipChunks(make(), fixedPace(1))) {
      copies.push(Buffer.from(chunk));
      if (chunk.length !== CHUNK_SIZE) continue;
      lent++;
      memory.add(chunk.buffer);
    }
    expect(lent).toBe(12);
    // The read-ahead holds 6 MiB: beyond that, chunks come back in the buffers of chunks already taken.
    expect(memory.size).toBeLessThanOrEqual(8);
    expect(Buffer.concat(copies).equals(await collect(zipStream(make(), fixedPace(1))))).toBe(true);
    const [a] = await entries(Buffer.concat(copies));
    expect((await readVerified(a!, 12 * CHUNK_SIZE)).equals(Buffer.concat(Array.from({ length: 12 }, (_, i) => Buffer.alloc(CHUNK_SIZE, i))))).toBe(true);
  });

  it("stores a one-chunk file outright when the pace says store", async () => {
    const data = text(5000);
    const zip = await collect(zipStream([file("a.txt", data)], fixedPace(0)));
    const [entry] = await entries(zip);
    expect(entry!.method).toBe(0);
    expect((await readVerified(entry!, data.length)).equals(data)).toBe(true);
  });

  it("writes one-piece files with their sizes up front, and stores what deflate would not shrink", async () => {
    const noise = randomBytes(10_000);
    const zip = await collect(zipStream([file("a.txt", text(5000)), file("noise.bin", noise)], fixedPace(1)));
    const [a, b] = await entries(zip);
    expect(localFlags(zip, 0) & 0x8).toBe(0);
    expect(zip.readUInt32LE(14)).toBe(crc32(text(5000)));
    expect(a!.method).toBe(8);
    expect(b!.method).toBe(0);
    expect(localFlags(zip, b!.offset) & 0x8).toBe(0);
    expect((await readVerified(b!, noise.length)).equals(noise)).toBe(true);
  });

  it("stores entries marked not to compress, reading them chunk by chunk without overlap", async () => {
    const data = randomBytes(2 * CHUNK_SIZE + 17);
    const reads: { position: number; length: number }[] = [];
    const input: ZipInput = { ...file("x.gz", data, false), open: memorySource(data, reads) };
    const [entry] = await entries(await collect(zipStream([input], fixedPace(6))));
    expect(entry!.method).toBe(0);
    expect(reads).toEqual([
      { position: 0, length: CHUNK_SIZE },
      { position: CHUNK_SIZE, length: CHUNK_SIZE },
      { position: 2 * CHUNK_SIZE, length: 17 },
    ]);
    expect((await readVerified(entry!, data.length)).equals(data)).toBe(true);
  });

  // This and the zip64 cases deflate or frame gigabytes: 1-4 s alone, several times that on a busy 2-core machine.
  it("reads deflated chunks into a few reused buffers, and never reuses one whose bytes went out stored", { timeout: 30_000 }, async () => {
    const chunks = 40;
    const targets = new Set<ArrayBufferLike>();
    // A source that reads into the buffer it is offered, as files do.
    const into = (data: Buffer) => async (): Promise<ZipSource> => ({
      async read(position, length, target) {
        const buf = target ?? Buffer.alloc(length);
        if (target) targets.add(target.buffer);
        data.copy(buf, 0, position, position + length);
        return buf;
      },
      async close() {},
    });
    const data = text(chunks * CHUNK_SIZE);
    const noise = [randomBytes(CHUNK_SIZE), randomBytes(CHUNK_SIZE)];
    const zip = await collect(
      zipStream(
        [
          { ...file("big.txt", data), open: into(data) },
          { ...file("n0.bin", noise[0]!), open: into(noise[0]!) },
          { ...file("n1.bin", noise[1]!), open: into(noise[1]!) },
          // Read after the noise went out: it would overwrite it, were its buffers reused.
          { ...file("again.txt", data), open: into(data) },
        ],
        fixedPace(1),
      ),
    );
    expect(targets.size).toBeGreaterThan(0);
    expect(targets.size).toBeLessThan(chunks);
    const [big, n0, n1, again] = await entries(zip);
    expect((await readVerified(again!, data.length)).equals(data)).toBe(true);
    expect((await readVerified(big!, data.length)).equals(data)).toBe(true);
    expect(n0!.method).toBe(0);
    expect((await readVerified(n0!, CHUNK_SIZE)).equals(noise[0]!)).toBe(true);
    expect((await readVerified(n1!, CHUNK_SIZE)).equals(noise[1]!)).toBe(true);
  });

  it("records unix modes, directories, symlinks, UTF-8 names and mtimes", async () => {
    const zip = await collect(
      zipStream(
        [
          { name: "bin", kind: "dir", mode: 0o750, mtimeMs: MTIME, size: 0, compress: false },
          { ...file("bin/run", text(10)), mode: 0o755 },
          { name: "link", kind: "symlink", mode: 0o777, mtimeMs: MTIME, size: 7, compress: false, data: Buffer.from("bin/run") },
          file("données/é.txt", Buffer.alloc(0)),
        ],
        fixedPace(6),
      ),
    );
    const got = (await entries(zip)).map((f) => ({ path: f.path, mode: f.unixMode.toString(8), size: f.size }));
    expect(got).toEqual([
      { path: "bin/", mode: "40750", size: 0 },
      { path: "bin/run", mode: "100755", size: 10 },
      { path: "link", mode: "120777", size: 7 },
      { path: "données/é.txt", mode: "100644", size: 0 },
    ]);
    const [, run] = await entries(zip);
    // Made on Unix (else no mode), with its time to the second from the timestamp extra field.
    expect(run!.unixMode).not.toBe(0);
    expect(run!.mtimeMs).toBe(MTIME);
  });

  it("keeps times before 1970 and before DOS time's 1980, to the second, in the timestamp extra field", async () => {
    const times = [Date.UTC(1960, 5, 15, 12, 0, 0), Date.UTC(1975, 0, 1, 0, 0, 1), -1500];
    const zip = await collect(zipStream(times.map((mtimeMs, i) => ({ ...file(`f${i}`, text(1)), mtimeMs })), fixedPace(6)));
    expect((await entries(zip)).map((e) => e.mtimeMs)).toEqual(times.map((t) => Math.floor(t / 1000) * 1000));
  });

  it("switches to zip64 end records past 65,534 entries", { timeout: 30_000 }, async () => {
    const n = 70_000;
    const inputs = Array.from({ length: n }, (_, i): ZipInput => ({ name: `d${i}`, kind: "dir", mode: 0o755, mtimeMs: MTIME, size: 0, compress: false }));
    const zip = await collect(zipStream(inputs, fixedPace(1)));
    expect(zip.readUInt16LE(zip.length - 22 + 10)).toBe(0xffff);
    const files = await entries(zip);
    expect(files.length).toBe(n);
    expect(files[n - 1]!.path).toBe(`d${n - 1}/`);
  });

  it("keeps a long central directory in a nameless temporary file, making the same archive lent or streamed", { timeout: 30_000 }, async () => {
    const inputs = () => Array.from({ length: 60_000 }, (_, i): ZipInput => ({ name: `dir-${i}`, kind: "dir", mode: 0o755, mtimeMs: MTIME, size: 0, compress: false }));
    const openSpills = () => (existsSync("/proc/self/fd") ? readdirSync("/proc/self/fd").map((fd) => readlinkSafe(`/proc/self/fd/${fd}`)).filter((l) => l.includes("nbatch-central-")) : []);
    const lent: Buffer[] = [];
    let spilled: string[] = [];
    for await (const chunk of zipChunks(inputs(), fixedPace(1))) {
      lent.push(Buffer.from(chunk));
      if (!spilled.length) spilled = openSpills();
    }
    if (existsSync("/proc/self/fd")) expect(spilled[0]).toMatch(/\(deleted\)$/);
    expect(openSpills()).toEqual([]);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith("nbatch-central-"))).toEqual([]);
    const zip = Buffer.concat(lent);
    expect(zip.equals(await collect(zipStream(inputs(), fixedPace(1))))).toBe(true);
    const files = await entries(zip);
    expect(files.map((f) => f.path)).toEqual(inputs().map((i) => `${i.name}/`));
    // With nowhere to put it, the directory stays in memory: the same archive.
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = "/nonexistent/nbatch-test";
    try {
      expect(zip.equals(await collect(zipStream(inputs(), fixedPace(1))))).toBe(true);
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
  });

  it("writes zip64 sizes and offsets for an entry over 4 GiB", async () => {
    const size = 2 ** 32 + 5 * CHUNK_SIZE + 3;
    const zeros = Buffer.alloc(CHUNK_SIZE);
    const big: ZipInput = {
      name: "huge.bin",
      kind: "file",
      mode: 0o644,
      mtimeMs: MTIME,
      size,
      compress: false,
      open: async () => ({ read: async (_position, length) => zeros.subarray(0, length), close: async () => {} }),
    };
    // The writer passes stored chunks through uncopied, so the zeros are recognised by identity.
    const archive = await recordSparse(zipStream([big, file("after.txt", text(100))], fixedPace(1)), (c) => c.buffer === zeros.buffer);
    const files = (await openZipSource(archive, "the sparse archive")).records;
    expect(files.map((f) => f.path)).toEqual(["huge.bin", "after.txt"]);
    expect(files[0]!.size).toBe(size);
    expect(files[0]!.compressedSize).toBe(size);
    let expected = 0;
    for (let done = 0; done < size; done += CHUNK_SIZE) expected = nativeCrc32(zeros.subarray(0, Math.min(CHUNK_SIZE, size - done)), expected);
    expect(files[0]!.crc32).toBe(expected);
    expect(files[1]!.offset).toBeGreaterThan(2 ** 32);
    expect((await readVerified(files[1]!, 100)).equals(text(100))).toBe(true);
  }, 30_000);

  it("fails the stream with the source's error when a read fails", async () => {
    const failing: ZipInput = {
      ...file("bad.txt", text(10)),
      open: async () => ({ read: async () => Promise.reject(new Error("disk on fire")), close: async () => {} }),
    };
    await expect(collect(zipStream([file("ok.txt", text(10)), failing], fixedPace(1)))).rejects.toThrow("disk on fire");
  });

  it("stops reading ahead and closes sources when the consumer gives up", async () => {
    let opened = 0;
    let closed = 0;
    let reads = 0;
    const source = async (): Promise<ZipSource> => {
      opened++;
      return { read: async (_p, length) => (reads++, randomBytes(length)), close: async () => void closed++ };
    };
    const inputs = Array.from({ length: 50 }, (_, i): ZipInput => ({ ...file(`f${i}`, Buffer.alloc(0)), size: 4 * CHUNK_SIZE, open: source }));
    const stream = zipStream(inputs, fixedPace(1));
    await new Promise<void>((resolve) => stream.once("data", () => (stream.destroy(), stream.once("close", resolve))));
    // Each source opened is closed once its reads are done; the reads under way when the stream went may still finish.
    await expect.poll(() => closed).toBe(opened);
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(50 * 4);
    expect(opened).toBeLessThan(50);
  });
});

/**
 * Keeps an archive without holding its long runs of stored zeros in memory:
 * chunks `isZeros` recognises are remembered by their length only. Returns
 * a source of its byte ranges.
 */
async function recordSparse(stream: Readable, isZeros: (chunk: Buffer) => boolean): Promise<ByteSource> {
  const segments: { start: number; data?: Buffer; length: number }[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const c = chunk as Buffer;
    segments.push({ start: size, length: c.length, ...(isZeros(c) ? {} : { data: Buffer.from(c) }) });
    size += c.length;
  }
  return {
    size,
    async read(offset, end) {
      const out = new PassThrough();
      const parts: Buffer[] = [];
      for (const s of segments) {
        if (s.start + s.length <= offset || s.start >= end) continue;
        const from = Math.max(offset, s.start) - s.start;
        const to = Math.min(end, s.start + s.length) - s.start;
        parts.push(s.data ? s.data.subarray(from, to) : Buffer.alloc(to - from));
        if (parts.reduce((n, p) => n + p.length, 0) > 64 * 1024 * 1024) throw new Error("test source asked for too much");
      }
      out.end(Buffer.concat(parts));
      return out;
    },
  };
}

describe("storedBlocks", () => {
  it("frames data as deflate stored blocks of at most 64 KiB that inflate to it, final only when asked", () => {
    const data = randomBytes(200_000);
    const blocks = Buffer.concat(storedBlocks(data, true));
    expect(blocks.length).toBe(data.length + 5 * 4);
    expect(inflateRawSync(blocks).equals(data)).toBe(true);
    const open = Buffer.concat([...storedBlocks(data.subarray(0, 1000), false), ...storedBlocks(Buffer.alloc(0), true)]);
    expect(inflateRawSync(open).equals(data.subarray(0, 1000))).toBe(true);
  });
});

describe("zip writer memory", () => {
  // What stays reachable, not what a clock says: each chunk a source hands over
  // is watched with a WeakRef, and the collector is run while the archive streams.
  const gc = (() => {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  })();
  const CHUNKS = 32;

  async function liveBehind(body: AsyncIterable<Buffer>, refs: WeakRef<Buffer>[]): Promise<number> {
    let worst = 0;
    let read = 0;
    for await (const chunk of body) {
      read += chunk.length;
      const done = Math.floor(read / CHUNK_SIZE);
      if (done < 12 || done >= CHUNKS || done % 4) continue;
      // Let the job that last touched the chunks end, so their WeakRefs may clear.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      const behind = refs.slice(0, done - 8).filter((r) => r.deref() !== undefined).length;
      worst = Math.max(worst, behind);
    }
    return worst;
  }

  function freshChunks(refs: WeakRef<Buffer>[]): ZipInput {
    return {
      name: "big.gz",
      kind: "file",
      mode: 0o644,
      mtimeMs: MTIME,
      size: CHUNKS * CHUNK_SIZE,
      compress: false,
      open: async () => ({
        async read(_position, length) {
          const b = Buffer.alloc(length, refs.length);
          refs.push(new WeakRef(b));
          return b;
        },
        async close() {},
      }),
    };
  }

  it("keeps no chunk of a stored multi-chunk file once it is written (stream)", { timeout: 30_000 }, async () => {
    const refs: WeakRef<Buffer>[] = [];
    expect(await liveBehind(zipStream([freshChunks(refs)], fixedPace(6)), refs)).toBe(0);
    expect(refs.length).toBe(CHUNKS);
  });

  it("keeps no chunk of a file stored inside a deflate entry once it is written (lent chunks)", { timeout: 30_000 }, async () => {
    const refs: WeakRef<Buffer>[] = [];
    const input = { ...freshChunks(refs), name: "big.txt", compress: true };
    expect(await liveBehind(zipChunks([input], fixedPace(0)), refs)).toBe(0);
    expect(refs.length).toBe(CHUNKS);
  });
});

import { createHash, hash, type Hash } from "node:crypto";
import * as fs from "node:fs";
import { extname, join } from "node:path";
import type { Readable } from "node:stream";
import { UserError } from "../errors.js";
import { BlockingCost } from "../pool.js";
import type { ManifestEntry } from "../tree/manifest.js";
import { generatedText } from "./generated.js";
import { AdaptivePace, fixedPace, type Pacer } from "./zip-pace.js";
import { SkipEntry, zipChunks, zipStream, type ZipEvents, type ZipInput, type ZipSource } from "./zip-writer.js";

export interface ExtraEntry {
  name: string;
  /** A function is called once every other entry is written (it may report on them). */
  data?: string | Buffer | (() => string);
  /** Or content made in pieces as it is written, never whole in memory (generated.ts). */
  text?: () => Iterable<string>;
}

export interface PackOptions {
  root: string;
  entries: readonly ManifestEntry[];
  extra?: readonly ExtraEntry[];
  /** A fixed deflate level (0 stores everything); by default the level follows the link (zip-pace.ts). */
  level?: number;
  /** The pacer that follows the link, to hear from the uploader (Pacer.uploaded); one of its own by default. */
  pace?: Pacer;
  /** Called with each count of file bytes read, for progress. */
  onRead?: (bytes: number) => void;
  /**
   * The agent's results: a file that vanished, became unreadable or changed
   * size since the scan is left out (and told here) instead of failing the
   * archive. Without it, such a file is a user error: inputs go whole or not at all.
   */
  onSkip?: (path: string, reason: string) => void;
  /** Each file once written: where it lies in the archive, and the SHA-256 of what was read (content packs, docs/protocol.md). */
  onWritten?: (entry: ManifestEntry, at: WrittenEntry) => void;
}

export interface WrittenEntry {
  /** Its local header. */
  offset: number;
  /** The end of its data. */
  end: number;
  crc32: number;
  sha256: Buffer;
  /** When its reading began (epoch ms): a write before then and none since is what the hash saw. */
  readAt: number;
  /** Its place in PackOptions.entries. */
  index: number;
}

/** Deflating these again costs CPU and gains nothing: they are stored as is. */
const COMPRESSED_EXTENSIONS = new Set([
  ".gz", ".tgz", ".bgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz4", ".lzma", ".br", ".snappy",
  ".zip", ".7z", ".rar", ".jar", ".whl", ".docx", ".xlsx", ".pptx",
  ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".jp2",
  ".mp3", ".mp4", ".m4a", ".m4v", ".mkv", ".mov", ".webm", ".ogg", ".flac",
  ".bam", ".cram", ".bcf", ".parquet", ".npz", ".orc", ".avro",
]);

/**
 * The listed entries of `root` (then the extra entries) as a zip stream.
 * Each file is read exactly to its manifest size, so the archive always
 * matches the manifest it was fingerprinted from.
 */
export function packZip(opts: PackOptions): NodeJS.ReadableStream & Readable {
  return zipStream(...writerArgs(opts));
}

/** The same archive as lent chunks, for a consumer that copies each before asking for the next (zipChunks). */
export function packZipChunks(opts: PackOptions): AsyncGenerator<Buffer> {
  return zipChunks(...writerArgs(opts));
}

// A file read in one piece is hashed in one call, with no hash object of its own: for 200,000 small files, 0.5 s instead of 1.2 s.
type Held = { entry: ManifestEntry; index: number; hash?: Hash; sha256?: Buffer; readAt: number };
type Hashes = Map<ZipInput, Held>;

function writerArgs(opts: PackOptions): [Iterable<ZipInput>, Pacer, ZipEvents] {
  const hashes: Hashes = new Map();
  return [inputs(opts, opts.level !== 0, hashes), paceFor(opts), events(opts, hashes)];
}

function events(opts: PackOptions, hashes: Hashes): ZipEvents {
  const { onWritten } = opts;
  if (!onWritten) return { skipped: opts.onSkip };
  return {
    skipped: opts.onSkip,
    written(input, offset, end, crc32) {
      const held = hashes.get(input);
      if (!held) return;
      hashes.delete(input);
      onWritten(held.entry, { offset, end, crc32, sha256: held.sha256 ?? (held.hash ?? createHash("sha256")).digest(), readAt: held.readAt, index: held.index });
    },
  };
}

function paceFor(opts: PackOptions): Pacer {
  return opts.level === undefined ? (opts.pace ?? new AdaptivePace()) : fixedPace(opts.level);
}

function* inputs(opts: PackOptions, compress: boolean, hashes: Hashes): Generator<ZipInput> {
  const small = new SmallFiles();
  for (const [index, e] of opts.entries.entries()) {
    const common = { name: e.path, mode: e.mode, mtimeMs: e.mtimeMs };
    if (e.type === "dir") yield { ...common, kind: "dir", size: 0, compress: false };
    else if (e.type === "symlink") {
      const data = Buffer.from(e.target ?? "", "utf8");
      yield { ...common, kind: "symlink", size: data.length, compress: false, data };
    } else {
      const held: Held | undefined = opts.onWritten ? { entry: e, index, readAt: Infinity } : undefined;
      // The time its reading begins, before anything of it is read: what tree/hashes.ts judges settledness by.
      const reading = <T>(read: () => T): T => {
        if (held) held.readAt = Math.min(held.readAt, Date.now());
        return read();
      };
      const input: ZipInput = {
        ...common,
        kind: "file",
        size: e.size,
        compress: compress && !COMPRESSED_EXTENSIONS.has(extname(e.path).toLowerCase()),
        open: () => reading(() => openFile(opts.root, e, opts)),
        load: e.size <= SMALL_FILE ? () => reading(() => small.read(opts.root, e, opts)) : undefined,
      };
      if (held) {
        hashes.set(input, held);
        input.onContent = (chunk, whole) => {
          if (whole) held.sha256 = hash("sha256", chunk, "buffer");
          else (held.hash ??= createHash("sha256")).update(chunk);
        };
      }
      yield input;
    }
  }
  for (const x of opts.extra ?? []) {
    if (x.text) {
      const text = generatedText(x.text);
      yield { name: x.name, kind: "file", mode: 0o644, mtimeMs: Date.now(), size: text.size, compress, open: text.open };
      continue;
    }
    const data = x.data ?? "";
    const late = typeof data === "function";
    const bytes = late ? () => Buffer.from(data()) : Buffer.from(data);
    yield { name: x.name, kind: "file", mode: 0o644, mtimeMs: Date.now(), size: late ? 0 : (bytes as Buffer).length, compress, data: bytes };
  }
}

/**
 * The callback API rather than FileHandle: for the thousands of small files
 * a directory holds, it costs the main thread about a third less per file.
 * The last read asks for one byte more than the file should have, so a file
 * that grew since the scan is noticed without another system call.
 */
async function openFile(root: string, entry: ManifestEntry, opts: PackOptions): Promise<ZipSource> {
  const { path, size } = entry;
  const { change: fail, read: readFailed } = failures(path, opts);
  const fd = await new Promise<number>((resolve, reject) => fs.open(join(root, path), "r", (err, fd) => (err ? reject(readFailed(err)) : resolve(fd))));
  const readAt = (buf: Buffer, offset: number, length: number, position: number) =>
    new Promise<number>((resolve, reject) =>
      fs.read(fd, buf, offset, length, position, (err, bytesRead) => (err ? reject(readFailed(err)) : resolve(bytesRead))),
    );
  return {
    async read(position, length, target) {
      const last = position + length === size;
      // Room for the probe byte, unless the caller's buffer is exactly the chunk.
      const probeInside = last && !target;
      const buf = target ?? Buffer.allocUnsafe(length + (probeInside ? 1 : 0));
      let filled = 0;
      while (filled < length) {
        const bytesRead = await readAt(buf, filled, buf.length - filled, position + filled);
        if (bytesRead === 0) throw fail("shrank");
        filled += bytesRead;
      }
      if (filled > length || (last && !probeInside && (await readAt(Buffer.allocUnsafe(1), 0, 1, size)) > 0)) throw fail("grew");
      opts.onRead?.(length);
      return probeInside ? buf.subarray(0, length) : buf;
    },
    close: () => new Promise<void>((resolve) => fs.close(fd, () => resolve())),
  };
}

// Files up to this size are read whole, by SmallFiles.
const SMALL_FILE = 64 * 1024;
// A blocking read slower than this on average (in ms) means the disk is
// cold or remote: reads go back to the threadpool, several at a time.
const SLOW_READ_MS = 0.2;

/**
 * Small files, read whole. While the files are in the page cache, as they
 * mostly are, a blocking open, read and close costs the main thread about
 * 4 microseconds where three trips to the threadpool cost about 19 and
 * their garbage: a fifth, for directories of many thousand small files.
 * Once a read takes longer than SLOW_READ_MS on average (a cold disk, a
 * network filesystem), waiting for each in turn would cost more than the
 * trips: they go to the threadpool, as larger files do, read ahead
 * several at a time.
 */
class SmallFiles {
  private readonly cost = new BlockingCost(SLOW_READ_MS, 0.1);

  read(root: string, entry: ManifestEntry, opts: PackOptions): Buffer | Promise<Buffer> {
    if (!this.cost.cheap) return openFile(root, entry, opts).then((s) => s.read(0, entry.size).finally(() => s.close()));
    return this.cost.timed(1, () => readWhole(root, entry, opts));
  }
}

/** A small file's exact content, with blocking calls; the same checks and errors as openFile's. */
function readWhole(root: string, entry: ManifestEntry, opts: PackOptions): Buffer {
  const { path, size } = entry;
  const failed = failures(path, opts);
  let fd: number;
  try {
    fd = fs.openSync(join(root, path), "r");
  } catch (err) {
    throw failed.read(err as NodeJS.ErrnoException);
  }
  try {
    // One byte more than the file should have: a file that grew is noticed in the same read.
    const buf = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (let n = -1; n !== 0 && filled <= size; filled += n) n = fs.readSync(fd, buf, filled, buf.length - filled, filled);
    if (filled < size) throw failed.change("shrank");
    if (filled > size) throw failed.change("grew");
    opts.onRead?.(size);
    return buf.subarray(0, size);
  } catch (err) {
    throw err instanceof SkipEntry || err instanceof UserError ? err : failed.read(err as NodeJS.ErrnoException);
  } finally {
    fs.closeSync(fd);
  }
}

/** What a file that changed or cannot be read becomes: one left out (the agent's results) or an error. */
function failures(path: string, opts: PackOptions): { change: (why: FileChange) => Error; read: (err: NodeJS.ErrnoException) => Error } {
  const change = (why: FileChange) => (opts.onSkip ? new SkipEntry(SKIP_REASONS[why]) : changeError(path, why));
  const read = (err: NodeJS.ErrnoException) =>
    err.code === "ENOENT" ? change("vanished") : opts.onSkip ? new SkipEntry(`it cannot be read (${err.code ?? err.message})`) : readError(path, err);
  return { change, read };
}

type FileChange = "vanished" | "shrank" | "grew";

const SKIP_REASONS: Record<FileChange, string> = {
  vanished: "it disappeared before it could be packed",
  shrank: "it shrank while it was being packed (something was still writing it)",
  grew: "it grew while it was being packed (something was still writing it)",
};

function changeError(path: string, why: FileChange): UserError {
  const what = why === "vanished" ? "disappeared while it was being packed" : `${why} while it was being packed`;
  return new UserError(`${path} ${what}: run again once nothing is changing the directory.`);
}

function readError(path: string, err: NodeJS.ErrnoException): Error {
  return new UserError(
    `Cannot read ${path} (${err.code ?? err.message}): fix its permissions or exclude it with --exclude-from-upload.`,
    { cause: err },
  );
}

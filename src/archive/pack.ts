import { createHash, type Hash } from "node:crypto";
import * as fs from "node:fs";
import { extname, join } from "node:path";
import type { Readable } from "node:stream";
import { UserError } from "../errors.js";
import type { ManifestEntry } from "../tree/manifest.js";
import { AdaptivePace, fixedPace, type Pacer } from "./zip-pace.js";
import { SkipEntry, zipChunks, zipStream, type ZipEvents, type ZipInput, type ZipSource } from "./zip-writer.js";

export interface ExtraEntry {
  name: string;
  /** A function is called once every other entry is written (it may report on them). */
  data: string | Buffer | (() => string);
}

export interface PackOptions {
  root: string;
  entries: readonly ManifestEntry[];
  extra?: readonly ExtraEntry[];
  /** A fixed deflate level (0 stores everything); by default the level follows the link (zip-pace.ts). */
  level?: number;
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
  sha256: string;
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

type Hashes = Map<ZipInput, { entry: ManifestEntry; hash: Hash }>;

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
      onWritten(held.entry, { offset, end, crc32, sha256: held.hash.digest("hex") });
    },
  };
}

function paceFor(opts: PackOptions): Pacer {
  return opts.level === undefined ? new AdaptivePace() : fixedPace(opts.level);
}

function* inputs(opts: PackOptions, compress: boolean, hashes: Hashes): Generator<ZipInput> {
  for (const e of opts.entries) {
    const common = { name: e.path, mode: e.mode, mtimeMs: e.mtimeMs };
    if (e.type === "dir") yield { ...common, kind: "dir", size: 0, compress: false };
    else if (e.type === "symlink") {
      const data = Buffer.from(e.target ?? "", "utf8");
      yield { ...common, kind: "symlink", size: data.length, compress: false, data };
    } else {
      const input: ZipInput = {
        ...common,
        kind: "file",
        size: e.size,
        compress: compress && !COMPRESSED_EXTENSIONS.has(extname(e.path).toLowerCase()),
        open: () => openFile(opts.root, e, opts),
      };
      if (opts.onWritten) {
        const hash = createHash("sha256");
        hashes.set(input, { entry: e, hash });
        input.onContent = (chunk) => hash.update(chunk);
      }
      yield input;
    }
  }
  for (const x of opts.extra ?? []) {
    const { data } = x;
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
  const fail = (why: FileChange) => (opts.onSkip ? new SkipEntry(SKIP_REASONS[why]) : changeError(path, why));
  const readFailed = (err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? fail("vanished") : opts.onSkip ? new SkipEntry(`it cannot be read (${err.code ?? err.message})`) : readError(path, err));
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

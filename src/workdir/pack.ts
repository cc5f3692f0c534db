import * as fs from "node:fs";
import { extname, join } from "node:path";
import type { Readable } from "node:stream";
import { UserError } from "../errors.js";
import type { ManifestEntry } from "./manifest.js";
import { AdaptivePace, fixedPace, type Pacer } from "./zip-pace.js";
import { zipChunks, zipStream, type ZipInput, type ZipSource } from "./zip-writer.js";

export interface ExtraEntry {
  name: string;
  data: string | Buffer;
}

export interface PackOptions {
  root: string;
  entries: readonly ManifestEntry[];
  extra?: readonly ExtraEntry[];
  /** A fixed deflate level (0 stores everything); by default the level follows the link (zip-pace.ts). */
  level?: number;
  /** Called with each count of file bytes read, for progress. */
  onRead?: (bytes: number) => void;
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
  return zipStream(inputs(opts, opts.level !== 0), paceFor(opts));
}

/** The same archive as lent chunks, for a consumer that copies each before asking for the next (zipChunks). */
export function packZipChunks(opts: PackOptions): AsyncGenerator<Buffer> {
  return zipChunks(inputs(opts, opts.level !== 0), paceFor(opts));
}

function paceFor(opts: PackOptions): Pacer {
  return opts.level === undefined ? new AdaptivePace() : fixedPace(opts.level);
}

function* inputs(opts: PackOptions, compress: boolean): Generator<ZipInput> {
  for (const e of opts.entries) {
    const common = { name: e.path, mode: e.mode, mtimeMs: e.mtimeMs };
    if (e.type === "dir") yield { ...common, kind: "dir", size: 0, compress: false };
    else if (e.type === "symlink") {
      const data = Buffer.from(e.target ?? "", "utf8");
      yield { ...common, kind: "symlink", size: data.length, compress: false, data };
    } else {
      yield {
        ...common,
        kind: "file",
        size: e.size,
        compress: compress && !COMPRESSED_EXTENSIONS.has(extname(e.path).toLowerCase()),
        open: () => openFile(opts.root, e.path, opts.onRead),
      };
    }
  }
  for (const x of opts.extra ?? []) {
    const data = Buffer.from(x.data);
    yield { name: x.name, kind: "file", mode: 0o644, mtimeMs: Date.now(), size: data.length, compress, data };
  }
}

/**
 * The callback API rather than FileHandle: for the thousands of small files
 * a directory holds, it costs the main thread about a third less per file.
 */
async function openFile(root: string, path: string, onRead?: (bytes: number) => void): Promise<ZipSource> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(join(root, path), "r", (err, fd) => (err ? reject(readError(path, err)) : resolve(fd))));
  const readAt = (buf: Buffer, offset: number, length: number, position: number) =>
    new Promise<number>((resolve, reject) =>
      fs.read(fd, buf, offset, length, position, (err, bytesRead) => (err ? reject(readError(path, err)) : resolve(bytesRead))),
    );
  return {
    async read(position, length, target) {
      const buf = target ?? Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const bytesRead = await readAt(buf, filled, length - filled, position + filled);
        if (bytesRead === 0) {
          throw new UserError(`${path} shrank while it was being packed: run again once nothing is changing the directory.`);
        }
        filled += bytesRead;
      }
      onRead?.(length);
      return buf;
    },
    close: () => new Promise<void>((resolve) => fs.close(fd, () => resolve())),
  };
}

function readError(path: string, err: NodeJS.ErrnoException): Error {
  if (err.code === "ENOENT") {
    return new UserError(`${path} disappeared while it was being packed: run again once nothing is changing the directory.`);
  }
  return new UserError(
    `Cannot read ${path} (${err.code ?? err.message}): fix its permissions or exclude it with --exclude-from-upload.`,
    { cause: err },
  );
}

import archiver, { type ZipEntryData } from "archiver";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { UserError } from "../errors.js";
import type { ManifestEntry } from "./manifest.js";

export interface ExtraEntry {
  name: string;
  data: string | Buffer;
}

export interface PackOptions {
  root: string;
  entries: readonly ManifestEntry[];
  extra?: readonly ExtraEntry[];
  level?: number;
}

/** Deflating these again costs CPU and gains nothing: they are stored as is. */
const COMPRESSED_EXTENSIONS = new Set([
  ".gz", ".tgz", ".bgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz4", ".lzma", ".br", ".snappy",
  ".zip", ".7z", ".rar", ".jar", ".whl", ".docx", ".xlsx", ".pptx",
  ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".jp2",
  ".mp3", ".mp4", ".m4a", ".m4v", ".mkv", ".mov", ".webm", ".ogg", ".flac",
  ".bam", ".cram", ".bcf", ".parquet", ".npz", ".orc", ".avro",
]);

// archiver's append() takes these for directory and symlink entries; its types omit them.
type ArchiveEntryData = ZipEntryData & { linkname?: string; type?: "file" | "directory" | "symlink" };

// Small files are read whole, several ahead of the archiver, so their reads
// overlap compression; larger ones stream, one open at a time. At most
// READ_AHEAD small files wait in memory, plus as many in archiver's queue.
const SMALL_FILE = 256 * 1024;
const READ_AHEAD = 16;

/**
 * The listed entries of `root` (then the extra entries) as a zip stream.
 * Returns a plain node stream (archiver's own is a readable-stream object,
 * which some consumers do not recognise as a Readable).
 */
export function packZip(opts: PackOptions): NodeJS.ReadableStream & Readable {
  const out = new PassThrough();
  const archive = archiver("zip", { zlib: { level: opts.level ?? 6 } });
  const entries = opts.entries;
  let stopped = false;
  let appended = 0;
  let processed = 0;
  let waiter: { limit: number; resolve: () => void } | undefined;
  let streaming: Readable | undefined;

  const settle = () => {
    if (waiter && (stopped || appended - processed <= waiter.limit)) {
      const { resolve } = waiter;
      waiter = undefined;
      resolve();
    }
  };
  /** Resolves once archiver has at most `limit` appended entries left to process. */
  const backlog = (limit: number) => new Promise<void>((resolve) => ((waiter = { limit, resolve }), settle()));
  const stop = (err?: Error) => {
    if (stopped) return;
    stopped = true;
    streaming?.destroy();
    archive.abort();
    settle();
    if (err) out.destroy(err);
  };
  archive.on("error", stop);
  archive.on("warning", stop);
  archive.on("entry", () => {
    processed += 1;
    settle();
  });
  // A consumer that gives up (destroys the stream) must not leave files being read.
  out.on("close", () => stop());
  archive.pipe(out);

  const pending = new Map<number, Promise<Buffer>>();
  let considered = 0;
  const readAhead = (from: number) => {
    for (considered = Math.max(considered, from); considered < entries.length && pending.size < READ_AHEAD; considered++) {
      const e = entries[considered]!;
      if (e.type !== "file" || e.size > SMALL_FILE) continue;
      const read = readFile(join(opts.root, e.path));
      read.catch(() => undefined); // rejections are handled when the entry's turn comes
      pending.set(considered, read);
    }
  };

  const append = (source: Buffer | Readable, data: ArchiveEntryData) => {
    appended += 1;
    archive.append(source, data);
  };

  const feed = async () => {
    for (const [i, e] of entries.entries()) {
      if (stopped) return;
      const date = new Date(e.mtimeMs);
      if (e.type === "dir") {
        append(Buffer.alloc(0), { name: `${e.path}/`, type: "directory", mode: e.mode, date });
        continue;
      }
      if (e.type === "symlink") {
        append(Buffer.alloc(0), { name: e.path, type: "symlink", linkname: e.target ?? "", mode: e.mode, date });
        continue;
      }
      const store = COMPRESSED_EXTENSIONS.has(extname(e.path).toLowerCase());
      readAhead(i);
      const read = pending.get(i);
      pending.delete(i);
      if (read) {
        const data = await read.catch((err: NodeJS.ErrnoException) => stop(readError(e.path, err)));
        await backlog(READ_AHEAD);
        if (stopped || !data) return;
        append(data, { name: e.path, mode: e.mode, date, store });
      } else {
        await backlog(0);
        const source = (streaming = createReadStream(join(opts.root, e.path)));
        // archiver pipes the source through its own stream, which drops
        // source errors; without this a vanished file would hang the zip.
        source.once("error", (err) => stop(readError(e.path, err)));
        append(source, { name: e.path, mode: e.mode, date, store });
      }
    }
    for (const x of opts.extra ?? []) append(Buffer.from(x.data), { name: x.name, mode: 0o644 });
    if (!stopped) await archive.finalize();
  };
  feed().catch((err: Error) => stop(err));
  return out;
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

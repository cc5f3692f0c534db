/**
 * The SHA-256 of a directory's files, kept between runs so that only the
 * files that changed are read again: a file whose device, inode, size, mtime
 * and ctime (its stamp) are those it had when it was hashed has the same
 * bytes. ctime moves with every write, even one that sets the mtime back.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cacheDir, type Env } from "../config/file.js";
import { eachLimited } from "../pool.js";
import type { ManifestEntry } from "./manifest.js";
import { replaceFile } from "./temp-files.js";

const HEADER = "nbatch-hashes 1";
/**
 * A write within this long before a file was read may not have moved its
 * times yet (filesystems keep coarse clocks; FAT's is 2 s): such a file's
 * hash is used for this run but not kept, so the next run reads it again.
 */
const UNSETTLED_MS = 2000;
const CONCURRENCY = 4;

export interface Hashed {
  sha256: string;
  stamp: string;
  /** When its reading began. */
  readAt: number;
}

export class FileHashes {
  private readonly fresh = new Map<string, Hashed>();

  private constructor(
    private readonly root: string,
    private readonly path: string,
    private readonly known: Map<string, { sha256: string; stamp: string }>,
  ) {}

  /** None known, and none kept. */
  static empty(): FileHashes {
    return new FileHashes("", "", new Map());
  }

  /** The hashes kept for the directory `root` (a real path); none when there are none or they cannot be read. */
  static async load(env: Env, root: string): Promise<FileHashes> {
    const path = join(cacheDir(env), "hashes", createHash("sha256").update(root).digest("hex").slice(0, 32));
    const known = new Map<string, { sha256: string; stamp: string }>();
    const text = await readFile(path, "utf8").catch(() => "");
    const lines = text.split("\n");
    if (lines[0] === `${HEADER} ${JSON.stringify(root)}`) {
      for (const line of lines.slice(1)) {
        const [sha256, stamp] = line.split(" ", 2);
        if (sha256?.length === 64 && stamp) known.set(line.slice(sha256.length + stamp.length + 2), { sha256, stamp });
      }
    }
    return new FileHashes(root, path, known);
  }

  /** The file's hash, if it was hashed with this stamp. */
  get(path: string, stamp: string | undefined): string | undefined {
    const k = this.fresh.get(path) ?? this.known.get(path);
    return k && k.stamp === stamp ? k.sha256 : undefined;
  }

  set(path: string, h: Hashed): void {
    this.fresh.set(path, h);
  }

  /** Whether any file was hashed since they were loaded. */
  get added(): boolean {
    return this.fresh.size > 0;
  }

  /**
   * Writes the hashes of the given files (the directory as it is now, each
   * with its stamp, and the hash its packing took, if any), replacing the
   * file whole. Lines go out some thousands at a time, never all at once.
   */
  async save(files: Iterable<readonly [path: string, stamp: string, packed?: Hashed]>): Promise<void> {
    if (!this.path) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await replaceFile(this.path, async (tmp) => {
      const file = await open(tmp, "w", 0o600);
      try {
        let text = `${HEADER} ${JSON.stringify(this.root)}\n`;
        for (const [path, stamp, packed] of files) {
          const fresh = this.fresh.get(path);
          const h = keepable(packed, stamp) ? packed : keepable(fresh, stamp) ? fresh : this.known.get(path);
          if (h && h.stamp === stamp && !path.includes("\n")) text += `${h.sha256} ${stamp} ${path}\n`;
          if (text.length < WRITE_BATCH) continue;
          await file.write(text);
          text = "";
        }
        await file.write(text);
      } finally {
        await file.close();
      }
    });
  }
}

const WRITE_BATCH = 256 * 1024;

/** A hash read in this run, of the file as it is now, and read long enough after its last write. */
function keepable(h: Hashed | undefined, stamp: string): h is Hashed {
  return h !== undefined && h.stamp === stamp && settled(h);
}

function settled(h: Hashed): boolean {
  const [, , , mtime, ctime] = h.stamp.split(":").map(Number);
  return Math.max(mtime ?? Infinity, ctime ?? Infinity) < h.readAt - UNSETTLED_MS;
}

/** Reads and hashes the given files, a few at a time; each hash goes to `hashes` as it is known. */
export async function hashFiles(root: string, entries: readonly ManifestEntry[], stamps: ReadonlyMap<string, string>, hashes: FileHashes, onRead?: (bytes: number) => void): Promise<void> {
  await eachLimited(entries, CONCURRENCY, async (e) => {
    const readAt = Date.now();
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(join(root, e.path), { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      onRead?.((chunk as Buffer).length);
    }
    hashes.set(e.path, { sha256: hash.digest("hex"), stamp: stamps.get(e.path) ?? "", readAt });
  });
}

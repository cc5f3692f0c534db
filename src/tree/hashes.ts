/**
 * The SHA-256 of a directory's files, kept between runs so that only the
 * files that changed are read again: a file whose device, inode, size, mtime
 * and ctime (its stamp) are those it had when it was hashed has the same
 * bytes. ctime moves with every write, even one that sets the mtime back.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { cacheDir, type Env } from "../config/file.js";
import { eachLimited } from "../pool.js";
import type { ManifestEntry, Stamps } from "./manifest.js";
import { byPath } from "./paths.js";
import { replaceFile } from "./temp-files.js";

const HEADER = "nbatch-hashes 1";
/**
 * A write within this long before a file was read may not have moved its
 * times yet (filesystems keep coarse clocks; FAT's is 2 s): such a file's
 * hash is used for this run but not kept, so the next run reads it again.
 */
const UNSETTLED_MS = 2000;
const CONCURRENCY = 4;

/** A file's hash is not known, was kept by an earlier run (for the stamp the file has now), or was read in this run. */
const NONE = 0;
const KEPT = 1;
const READ = 2;

/**
 * The hashes known for the files of one scan, by the number each file's
 * entry carries (ManifestEntry.stamp): 33 bytes a file and 8 more for
 * those read in this run, where a map of paths to hex strings and stamps
 * had held about 250 (a re-run over 200,000 files peaked at 272 MB). A
 * kept hash is taken only for a file whose stamp is the one it was kept
 * with; the others are forgotten as they are read.
 */
export class FileHashes {
  private readonly shas: Buffer;
  private readonly states: Uint8Array;
  private readonly readAts: Float64Array;
  private read = 0;

  private constructor(
    private readonly root: string,
    private readonly path: string,
    files: number,
  ) {
    // Zeroed by the system: pages no hash is written to are never touched.
    this.shas = Buffer.alloc(32 * files);
    this.states = new Uint8Array(files);
    this.readAts = new Float64Array(files);
  }

  /** None known, and none kept: room for the hashes of `files` files read in this run. */
  static none(files: number): FileHashes {
    return new FileHashes("", "", files);
  }

  /**
   * The hashes kept for the directory `root` (a real path) that still hold
   * for the scan's files; none when there are none or they cannot be read.
   * The file is read line by line, never whole.
   */
  static async load(env: Env, root: string, entries: readonly ManifestEntry[], stamps: Stamps): Promise<FileHashes> {
    const path = join(cacheDir(env), "hashes", createHash("sha256").update(root).digest("hex").slice(0, 32));
    const hashes = new FileHashes(root, path, stamps.count);
    const find = byPath(entries);
    try {
      let first = true;
      for await (const line of createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity })) {
        if (first && line !== `${HEADER} ${JSON.stringify(root)}`) break;
        first = false;
        const space = line.indexOf(" ", 65);
        if (line[64] !== " " || space < 0) continue;
        const e = find.get(line.slice(space + 1));
        if (e?.stamp === undefined || stamps.of(e) !== line.slice(65, space) || !SHA256.test(line.slice(0, 64))) continue;
        hashes.shas.write(line.slice(0, 64), 32 * e.stamp, "hex");
        hashes.states[e.stamp] = KEPT;
      }
    } catch {
      // Unreadable hashes cost only a re-read of the files.
      hashes.states.fill(NONE);
    }
    return hashes;
  }

  /** The file's hash, if one is known for it as it is now. */
  get(e: ManifestEntry): string | undefined {
    const i = e.stamp;
    return i !== undefined && this.states[i] ? this.sha(i) : undefined;
  }

  /**
   * A file's hash (hex, or its 32 bytes), read in this run from `readAt` on.
   * One kept before stays kept: packing a file checks what it read against it.
   */
  set(e: ManifestEntry, sha256: string | Buffer, readAt: number): void {
    const i = e.stamp;
    if (i === undefined || i >= this.states.length || this.states[i] === KEPT) return;
    if (typeof sha256 === "string") this.shas.write(sha256, 32 * i, "hex");
    else sha256.copy(this.shas, 32 * i);
    if (this.states[i] !== READ) this.read += 1;
    this.states[i] = READ;
    this.readAts[i] = readAt;
  }

  /** Whether any file was hashed since they were loaded. */
  get added(): boolean {
    return this.read > 0;
  }

  /**
   * Writes the hashes of the given files (the directory as it is now, each
   * with its stamp), replacing the file whole. Lines go out some thousands at a time, never all at once.
   */
  async save(files: Iterable<readonly [entry: ManifestEntry, stamp: string]>): Promise<void> {
    if (!this.path) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await replaceFile(this.path, async (tmp) => {
      const file = await open(tmp, "w", 0o600);
      try {
        let text = `${HEADER} ${JSON.stringify(this.root)}\n`;
        for (const [e, stamp] of files) {
          const sha = this.keepable(e, stamp);
          if (sha && !e.path.includes("\n")) text += `${sha} ${stamp} ${e.path}\n`;
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

  /** The hash to keep for a file, if any: one kept before, or one read in this run long enough after its last write. */
  private keepable(e: ManifestEntry, stamp: string): string | undefined {
    const i = e.stamp;
    if (i === undefined || !this.states[i]) return undefined;
    if (this.states[i] === READ && !settled(stamp, this.readAts[i]!)) return undefined;
    return this.sha(i);
  }

  private sha(i: number): string {
    return this.shas.toString("hex", 32 * i, 32 * i + 32);
  }
}

const WRITE_BATCH = 256 * 1024;
const SHA256 = /^[0-9a-f]{64}$/;

/** Read long enough after the file's last write that its stamp would show a later one. */
function settled(stamp: string, readAt: number): boolean {
  const [, , , mtime, ctime] = stamp.split(":").map(Number);
  return Math.max(mtime ?? Infinity, ctime ?? Infinity) < readAt - UNSETTLED_MS;
}

/** Reads and hashes the given files, a few at a time; each hash goes to `hashes` as it is known. */
export async function hashFiles(root: string, entries: readonly ManifestEntry[], hashes: FileHashes, onRead?: (bytes: number) => void): Promise<void> {
  await eachLimited(entries, CONCURRENCY, async (e) => {
    const readAt = Date.now();
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(join(root, e.path), { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      onRead?.((chunk as Buffer).length);
    }
    hashes.set(e, hash.digest("hex"), readAt);
  });
}

import { lstatSync, type Stats } from "node:fs";
import { lstat, open, readlink, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { UserError } from "../errors.js";
import { holdHeapFor, youngGenerationFor } from "../heap.js";
import { BlockingCost } from "../pool.js";
import { comparePaths, hasDotsAfterName, isInside, readNames, realpathOfPrefix } from "./paths.js";
import type { Exclusion } from "./patterns.js";

export type EntryType = "file" | "dir" | "symlink";

/**
 * One path of a directory tree. `mtimeMs` is cut to whole milliseconds:
 * utimes cannot restore sub-millisecond times exactly, and a time that does
 * not survive a round trip would make every restored file look changed. Cut,
 * not rounded: a time in a second's last half millisecond would round into
 * the next second, and the job would see a different second than `ls` here.
 * But a time restored to a whole millisecond reads back a fraction of a
 * microsecond under it (seconds as a double, truncated to nanoseconds), so
 * what is within a microsecond under a millisecond counts as that one.
 * Directories have size 0 (their on-disk size is an allocation detail).
 */
export interface ManifestEntry {
  path: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
  mode: number;
  target?: string;
  /** With ScanOptions.stamps, a file's place in Manifest.stamps. */
  stamp?: number;
}

export interface Manifest {
  entries: ManifestEntry[];
  excluded: { path: string; rule: string }[];
  /** Paths that could not be taken (a name nbatch does not carry, or, with skipUnreadable, unreadable or vanished), with why. */
  skipped: Skipped[];
  files: number;
  bytes: number;
  /** With ScanOptions.stamps: for each file, what tells a changed file from an unchanged one (tree/hashes.ts). */
  stamps?: Stamps;
}

export interface Skipped {
  /** As printable text: bytes that are not UTF-8 appear as \xNN. */
  path: string;
  reason: string;
}

export interface ScanOptions {
  /**
   * The agent takes what it can and says what it left (a job's results may be
   * hours of compute); the CLI refuses to upload a tree it cannot read whole.
   */
  skipUnreadable?: boolean;
  /** Keep each file's device, inode, size, mtime and ctime, to know its hash without reading it. */
  stamps?: boolean;
}

const OUTSIDE_SYMLINK_RULE = "symlink outside the directory";
const SPECIAL_FILE_RULE = "not a regular file";
const VANISHED = "it disappeared while the directory was read";
const UNREADABLE = "permission denied";

export async function scanDirectory(
  root: string,
  exclude: (relPath: string, isDir: boolean) => Exclusion,
  opts: ScanOptions = {},
): Promise<Manifest> {
  const rootReal = await resolveRoot(root);
  const manifest: Manifest = { entries: [], excluded: [], skipped: [], files: 0, bytes: 0, ...(opts.stamps ? { stamps: new Stamps() } : {}) };
  const canRead = readChecker();
  const skip = (path: string, reason: string) => void manifest.skipped.push({ path, reason });
  /** An unreadable path: skipped, or the one error that names it. */
  const unreadable = (rel: string) => (opts.skipUnreadable ? skip(rel, UNREADABLE) : Promise.reject(permissionError(rel)));
  /** Undefined (and the path skipped) when the path went away or cannot be read; any other error is thrown. */
  const excuse = async (rel: string, err: unknown): Promise<undefined> => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return void (rel && skip(rel, VANISHED));
    if (code === "ENAMETOOLONG") return void skip(rel, "its path is longer than the system allows");
    if (isPermission(err)) return void (await unreadable(rel || "."));
    throw err;
  };
  /** What op gives, or undefined as excuse says. */
  const tolerate = <T>(rel: string, op: () => Promise<T>): Promise<T | undefined> => op().catch((err: unknown) => excuse(rel, err));
  const lstats = new Lstats(rootReal, excuse);

  async function walk(dirRel: string): Promise<void> {
    const names = await tolerate(dirRel, () => readNames(join(rootReal, dirRel)));
    const kept: string[] = [];
    for (const { name, isDirectory, problem } of names ?? []) {
      // join makes one flat string where a template makes a tree of pieces: several times the memory, kept for each path.
      const rel = dirRel ? [dirRel, name].join("/") : name;
      const verdict = exclude(rel, isDirectory);
      if (verdict.excluded) manifest.excluded.push({ path: rel, rule: verdict.rule ?? "excluded" });
      else if (problem) skip(rel, problem);
      else kept.push(rel);
    }
    holdHeapFor(manifest.entries.length + kept.length);
    const stats = await lstats.of(kept);
    for (const [i, rel] of kept.entries()) {
      const st = stats[i];
      if (!st) continue;
      const abs = join(rootReal, rel);
      if (st.isDirectory()) {
        manifest.entries.push(toEntry(rel, st));
        await walk(rel);
      } else if (st.isSymbolicLink()) {
        const target = await tolerate(rel, () => readlink(abs));
        if (target === undefined) continue;
        const real = await linkDestination(abs, target);
        if (isInside(rootReal, real)) manifest.entries.push(toEntry(rel, st, portableTarget(rootReal, rel, target, real)));
        else manifest.excluded.push({ path: rel, rule: OUTSIDE_SYMLINK_RULE });
      } else if (st.isFile()) {
        if (!(await canRead(abs, st))) {
          await unreadable(rel);
          continue;
        }
        manifest.entries.push(toEntry(rel, st, undefined, manifest.stamps?.add(st)));
        manifest.files += 1;
        manifest.bytes += st.size;
      } else {
        manifest.excluded.push({ path: rel, rule: SPECIAL_FILE_RULE });
      }
    }
  }

  await walk("");
  manifest.stamps?.trim();
  youngGenerationFor(manifest.entries.length);
  manifest.entries.sort((a, b) => comparePaths(a.path, b.path));
  manifest.excluded.sort((a, b) => comparePaths(a.path, b.path));
  manifest.skipped.sort((a, b) => comparePaths(a.path, b.path));
  return manifest;
}

// A blocking lstat slower than this on average (ms) means a cold disk or a
// network filesystem: lstats go to the threadpool, a directory's at once.
const SLOW_LSTAT_MS = 0.1;

/**
 * The lstat of each path of a directory. While they come from the inode
 * cache, as on a second scan they do, blocking calls cost a few
 * microseconds each, where a trip to the threadpool costs several times
 * that and, with many in flight, storms of thread wake-ups (a scan of
 * 30,000 files made 590,000 futex calls): for a tree of many files, the
 * difference between a second and a fifth of one. Once they are slow on
 * average, waiting for each in turn would cost more: they go to the
 * threadpool, all of a directory's at once.
 */
class Lstats {
  private readonly cost = new BlockingCost(SLOW_LSTAT_MS, 0.5);

  constructor(
    private readonly root: string,
    private readonly excuse: (rel: string, err: unknown) => Promise<undefined>,
  ) {}

  async of(rels: readonly string[]): Promise<(Stats | undefined)[]> {
    if (!this.cost.cheap) return Promise.all(rels.map((rel) => lstat(join(this.root, rel)).catch((err: unknown) => this.excuse(rel, err))));
    const failed: [number, unknown][] = [];
    const out = this.cost.timed(rels.length, () =>
      rels.map((rel, i) => {
        try {
          return lstatSync(join(this.root, rel));
        } catch (err) {
          failed.push([i, err]);
          return undefined;
        }
      }),
    );
    for (const [i, err] of failed) out[i] = await this.excuse(rels[i]!, err);
    return out;
  }
}

/** lstat one path into an entry; undefined when it does not exist. */
export async function statEntry(root: string, relPath: string): Promise<ManifestEntry | undefined> {
  const abs = join(root, relPath);
  let st: Stats;
  try {
    st = await lstat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
  return toEntry(relPath, st, st.isSymbolicLink() ? await readlink(abs) : undefined);
}

function toEntry(path: string, st: Stats, target?: string, stamp?: number): ManifestEntry {
  const type: EntryType = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file";
  // lstat's numbers are doubles, which V8 keeps each in a box of its own (16 bytes) unless they are made small
  // integers; and not through an array, whose numbers would come out boxed again.
  const size = type === "dir" ? 0 : st.size < 2 ** 31 ? st.size | 0 : st.size;
  const mtimeMs = Math.floor(st.mtimeMs + 0.001);
  const mode = st.mode & 0o7777;
  // Whole in one literal: a property added later can cost the object a second allocation.
  if (stamp !== undefined) return { path, type, size, mtimeMs, mode, stamp };
  return target === undefined ? { path, type, size, mtimeMs, mode } : { path, type, size, mtimeMs, mode, target };
}

/**
 * Each file's device, inode, mtime and ctime as the scan found them: with
 * its size, what tree/hashes.ts tells a changed file by (ctime moves with
 * every write and chmod, even one that puts the mtime back). Four numbers
 * a file in one growing array, 32 bytes, where a string and a map entry for
 * each cost about 100 (20 MB for 200,000 files); the text is made when it
 * is asked for.
 */
export class Stamps {
  private numbers = new Float64Array(0);
  private used = 0;

  /** How many files have one. */
  get count(): number {
    return this.used >> 2;
  }

  /** Keeps a file's stamp; the number its entry carries. */
  add(st: Stats): number {
    if (this.used === this.numbers.length) {
      const wider = new Float64Array(Math.max(2 * this.used, 4 * 1024));
      wider.set(this.numbers);
      this.numbers = wider;
    }
    const n = this.numbers;
    n[this.used] = st.dev;
    n[this.used + 1] = st.ino;
    n[this.used + 2] = st.mtimeMs;
    n[this.used + 3] = st.ctimeMs;
    this.used += 4;
    return (this.used >> 2) - 1;
  }

  /** Gives back the room the array grew into and no file took (up to half of it). */
  trim(): void {
    this.numbers = this.numbers.slice(0, this.used);
  }

  /** A file's stamp, as the text tree/hashes.ts keeps; undefined for an entry that has none. */
  of(e: ManifestEntry): string | undefined {
    if (e.stamp === undefined) return undefined;
    const [n, i] = [this.numbers, 4 * e.stamp];
    return [n[i], n[i + 1], e.size, n[i + 2], n[i + 3]].join(":");
  }
}

/** Where a link ends, followed as far as it resolves. */
async function linkDestination(abs: string, target: string): Promise<string> {
  try {
    return await realpath(abs);
  } catch {
    // Dangling or looping: judge by where the target text points.
    return realpathOfPrefix(resolve(dirname(abs), target));
  }
}

/**
 * A link that stays inside but is written absolute, or with `..` after a
 * name, would point out of (or be refused in) the job's copy: it travels as
 * the relative path from its own directory to where it ends.
 */
function portableTarget(rootReal: string, rel: string, target: string, real: string): string {
  if (!isAbsolute(target) && !hasDotsAfterName(target)) return target;
  return posix.relative(posix.dirname(rel), relative(rootReal, real).split(sep).join("/")) || ".";
}

/**
 * Permission bits from lstat decide readability with no extra syscall;
 * only files the bits say we cannot read are confirmed by opening them
 * (ACLs may still grant access).
 */
function readChecker(): (abs: string, st: Stats) => Promise<boolean> {
  const uid = process.geteuid?.();
  const gids = new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])]);
  return async (abs, st) => {
    if (uid === undefined || uid === 0) return true;
    const bits = st.uid === uid ? 0o400 : gids.has(st.gid) ? 0o040 : 0o004;
    if (st.mode & bits) return true;
    try {
      await (await open(abs, "r")).close();
      return true;
    } catch (err) {
      if (isPermission(err)) return false;
      throw err;
    }
  };
}

async function resolveRoot(root: string): Promise<string> {
  const real = await realpath(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") throw new UserError(`The directory ${root} does not exist: check the path.`);
    throw isPermission(err) ? permissionError(".") : err;
  });
  if (!(await lstat(real)).isDirectory()) throw new UserError(`${root} is not a directory: give a directory to run in.`);
  return real;
}

function isPermission(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "EACCES" || code === "EPERM";
}

function permissionError(rel: string): UserError {
  return new UserError(
    `Cannot read ${rel}: permission denied. Fix its permissions or exclude it with --exclude-from-upload.`,
  );
}

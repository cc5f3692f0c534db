import { lstat, mkdir, readdir, realpath } from "node:fs/promises";
import { isUtf8 } from "node:buffer";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";

/** True when `child` is `parent` itself or lies under it (both absolute, normalized). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(".." + sep) && !isAbsolute(rel));
}

/**
 * Where an absolute path really leads: the realpath of its longest existing
 * prefix with the missing rest appended, so an existing symlink anywhere
 * along it counts even when the final name does not exist yet.
 */
export async function realpathOfPrefix(abs: string): Promise<string> {
  const missing: string[] = [];
  for (let cur = abs; ; cur = dirname(cur)) {
    try {
      return join(await realpath(cur), ...missing.reverse());
    } catch {
      if (dirname(cur) === cur) return abs;
      missing.push(basename(cur));
    }
  }
}

/**
 * Why an archive entry name may not be written, or undefined when it is a
 * plain relative POSIX path. Checked on the raw name, before any
 * normalization, so nothing a hostile archive spells can be reinterpreted.
 */
export function unsafeEntryName(name: string): string | undefined {
  if (name === "" || name === "/") return "empty name";
  if (name.includes("\0")) return "name contains a NUL byte";
  if (name.includes("\\")) return "name contains a backslash";
  if (name.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(name)) return "drive letter in path";
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  if (segments.includes("..")) return "path contains '..'";
  if (segments.some((s) => s === "" || s === ".")) return "path is not normalized";
  return undefined;
}

/**
 * A symlink target with `..` after a name (`a/../b`): the upload rewrites
 * such a link to a plain relative path, and extraction refuses one.
 */
export function hasDotsAfterName(target: string): boolean {
  const segments = target.split("/");
  const firstName = segments.findIndex((s) => s !== "..");
  return firstName !== -1 && segments.slice(firstName).includes("..");
}

/** Byte order of paths, the order of manifests and extraction reports. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Things with a path, found by path. */
export interface ByPath<T> {
  get(path: string): T | undefined;
}

/**
 * Finds entries by path without a map of them where they are in path order,
 * as a scan's are: a binary search costs nothing to set up, where a map of
 * 200,000 entries holds 10 MB more. Entries out of order get a map.
 */
export function byPath<T extends { path: string }>(entries: readonly T[]): ByPath<T> {
  for (let i = 1; i < entries.length; i++) if (comparePaths(entries[i - 1]!.path, entries[i]!.path) >= 0) return new Map(entries.map((e) => [e.path, e]));
  return { get: (path) => entries[searchPaths(entries.length, (i) => entries[i]!.path, path)] };
}

/** The index of `path` among `count` paths in path order (the i-th given by `pathAt`), or -1. */
export function searchPaths(count: number, pathAt: (i: number) => string, path: string): number {
  let [lo, hi] = [0, count - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = comparePaths(pathAt(mid), path);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A reason an entry cannot be written; extraction reports it and goes on. */
export class Refusal extends Error {}

/**
 * Create the parent directories of `relPath` under `root`, refusing to go
 * through anything that is not a real directory (a symlink could point the
 * write outside root). `verified` remembers directories already checked.
 */
export async function ensureParentDirs(root: string, relPath: string, verified: Set<string>): Promise<void> {
  const parts = relPath.split("/").slice(0, -1);
  let rel = "";
  for (const part of parts) {
    rel = rel ? `${rel}/${part}` : part;
    if (verified.has(rel)) continue;
    const abs = join(root, rel);
    try {
      await mkdir(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const st = await lstat(abs);
    if (st.isSymbolicLink()) throw new Refusal(`parent ${rel} is a symlink`);
    if (!st.isDirectory()) throw new Refusal(`parent ${rel} is not a directory`);
    verified.add(rel);
  }
}

/**
 * Why a name found on disk cannot travel in nbatch's archives, or undefined.
 * Zip names are UTF-8, so other bytes would arrive as something else; and a
 * backslash is a separator to zip readers, so extraction refuses it. The CLI
 * and the agent apply the same rule: such a path is left out with a warning.
 */
export function untravelledName(name: Buffer): string | undefined {
  if (!isUtf8(name)) return "its name is not valid UTF-8, and archives carry UTF-8 names only: rename it";
  return name.includes(0x5c) ? BACKSLASH : undefined;
}

const BACKSLASH = "its name contains a backslash, which zip readers take for a separator: rename it";

export interface Name {
  /** As text; printable, \xNN for bytes that are not UTF-8, when it has a problem. */
  name: string;
  isDirectory: boolean;
  /** Why it cannot travel (untravelledName), if it cannot. */
  problem?: string;
}

/**
 * A directory's names, read as text: a name's bytes as Buffers would cost
 * an allocation each, outside the JavaScript heap, for every path of the
 * tree. A name that is not UTF-8 reads back with U+FFFD in it; only then is
 * the directory read again as bytes, to tell such names from a real U+FFFD.
 */
export async function readNames(dir: string): Promise<Name[]> {
  const dirents = await readdir(dir, { withFileTypes: true });
  if (!dirents.some((d) => d.name.includes("\uFFFD"))) {
    return dirents.map((d) => ({ name: d.name, isDirectory: d.isDirectory(), ...(d.name.includes("\\") ? { problem: BACKSLASH } : {}) }));
  }
  return (await readdir(dir, { withFileTypes: true, encoding: "buffer" })).map((d) => {
    const problem = untravelledName(d.name);
    return { name: problem ? printableName(d.name) : d.name.toString("utf8"), isDirectory: d.isDirectory(), ...(problem ? { problem } : {}) };
  });
}

/** A name's bytes as text for messages: valid UTF-8 as it is, any other byte as \xNN. */
export function printableName(name: Buffer): string {
  if (isUtf8(name)) return name.toString("utf8");
  return [...name].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
}

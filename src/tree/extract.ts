import { createWriteStream } from "node:fs";
import { chmod, lutimes, mkdir, realpath, rename, symlink, utimes, writeFile as writeFileWhole } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { UserError } from "../errors.js";
import { MODE_MASK, planEntries, readSmall, readVerified, SMALL_BYTES, verify, type EntriesByPath, type PlannedEntry } from "../archive/entries.js";
import { openZip, type ZipDirectory } from "../archive/zip-reader.js";
import { Crc32Meter, crc32File } from "../archive/crc32.js";
import { differs } from "./diff.js";
import { statEntry, type ManifestEntry } from "./manifest.js";
import { Refusal, comparePaths, ensureParentDirs, hasDotsAfterName, isInside, realpathOfPrefix, type ByPath } from "./paths.js";
import { eachLimited } from "../pool.js";
import { replaceFile, sweepStaleTemps } from "./temp-files.js";
import { besideClashingDirs, settle, type Claims } from "./beside.js";

export interface ExtractReport {
  written: string[];
  /** Same content as the job's, given the job's modification time or mode: a rebuild tool must see what the job saw. */
  touched: string[];
  identical: string[];
  /** Kept here, the job's version saved beside: edited locally while the job ran, or of another type ("type"); kept: in a fan-out run, the task whose version stayed at path. */
  conflicts: { path: string; savedAs: string; kind?: "type"; kept?: number }[];
  refused: { path: string; reason: string }[];
  /** The directories among the paths above: people count files and links. */
  directories: string[];
  bytes: number;
}

export type ExtractAction = "written" | "touched" | "identical" | "conflict" | "refused";

export interface ExtractOptions {
  destRoot: string;
  /** What to call the archive in messages. */
  label: string;
  select?: (relPath: string) => boolean;
  meta?: EntriesByPath;
  baseline?: ByPath<ManifestEntry>;
  conflictTag?: string;
  /** A fan-out run: which of its tasks wrote which paths, and which task this is. */
  claims?: Claims;
  maxBytes?: number;
  maxEntries?: number;
  /** Stops before the next entry (a signal while extracting); what is written so far stays whole. */
  signal?: AbortSignal;
  onFile?: (path: string, action: ExtractAction) => void;
}

const DEFAULT_MAX_BYTES = 100 * 1024 ** 3;
const MAX_LINK_TARGET = 4096;
const CONCURRENCY = 4;

/**
 * Unpack a zip into destRoot without ever writing outside it, through a
 * symlink, over a file the user edited meanwhile, or as a half-written
 * file. Refused entries are reported and the others go on.
 */
export async function extractZip(opts: Omit<ExtractOptions, "label"> & { archivePath: string }): Promise<ExtractReport> {
  const directory = await openZip(opts.archivePath, { maxEntries: opts.maxEntries });
  try {
    return await extractDirectory(directory, { label: opts.archivePath, ...opts });
  } finally {
    directory.close();
  }
}

/** The same from an archive already opened (the results, whose results.json is read first). */
export async function extractDirectory(directory: ZipDirectory, opts: ExtractOptions): Promise<ExtractReport> {
  const root = await realpath(opts.destRoot);
  const report: ExtractReport = { written: [], touched: [], identical: [], conflicts: [], refused: [], directories: [], bytes: 0 };
  const refuse = (path: string, reason: string) => {
    report.refused.push({ path, reason });
    opts.onFile?.(path, "refused");
  };
  const done = (path: string, action: "written" | "touched" | "identical", list: string[]) => {
    list.push(path);
    opts.onFile?.(path, action);
  };
  const attempt = (p: PlannedEntry, work: () => Promise<void>) =>
    work().catch((err: unknown) => {
      if (opts.signal?.aborted) throw opts.signal.reason;
      refuse(p.path, reasonFor(err, root));
    });
  const planned = planEntries(directory, opts, refuse);
  // Each entry is cut off at its claimed size while written, so this bounds what is actually written too.
  const claimed = planned.reduce((sum, p) => sum + (p.type === "dir" ? 0 : p.size), 0);
  const limit = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (claimed > limit) {
    throw new UserError(
      `${opts.label} holds ${claimed} bytes, more than the limit of ${limit} (max-results-size): nothing was extracted; if the job really made that much, raise it with --max-results-size or core.max-results-size`,
    );
  }

  const tag = `nbatch-${opts.conflictTag ?? "job"}`;
  const clashed = (path: string, savedAs: string) => {
    report.conflicts.push({ path, savedAs, kind: "type" });
    opts.onFile?.(path, "conflict");
  };
  await besideClashingDirs(root, planned, tag, clashed);
  await sweepStaleTemps(root, ["", ...planned.map((p) => dirname(p.path))].map((d) => (d === "." ? "" : d)));
  const verified = new Set<string>();
  const created: PlannedEntry[] = [];
  // Directories first, parents before children, so their own entries create them.
  const dirs = planned.filter((e) => e.type === "dir");
  report.directories = dirs.map((p) => p.path);
  for (const p of dirs) {
    opts.signal?.throwIfAborted();
    await attempt(p, async () => {
      await ensureParentDirs(root, p.path, verified);
      const local = await statEntry(root, p.path);
      if (local) {
        // A mode the job changed on an existing directory comes back too.
        if (local.mode !== p.mode) created.push(p);
        done(p.path, "identical", report.identical);
      } else {
        // Owner-writable while it is filled; its own mode is applied at the end.
        await mkdir(join(root, p.path), { mode: 0o700 });
        created.push(p);
        done(p.path, "written", report.written);
      }
      verified.add(p.path);
    });
  }

  const place = async (p: PlannedEntry) => {
    opts.signal?.throwIfAborted();
    await ensureParentDirs(root, p.path, verified);
    const target = p.type === "symlink" ? await readLinkTarget(p, root) : undefined;
    const abs = join(root, p.path);
    const local = await statEntry(root, p.path);
    // A directory here where the job has a file: kept, the job's file saved beside it.
    const clash = local?.type === "dir";
    // A file another task of this fan-out run wrote is settled by the run's rule (job/fanout/claims.ts), not as a local edit.
    const holder = local && !clash ? opts.claims?.holder(p.path, local) : undefined;
    const edited = clash || (holder === undefined && local !== undefined && opts.baseline !== undefined && isEdited(local, opts.baseline.get(p.path)));
    // Tasks of a run may write a path at the same size in the same millisecond: between them only the bytes tell.
    if (!clash && local && (await sameContent(abs, local, p, target, holder === undefined))) {
      // A job that only touched or chmod-ed a file (make rebuilding it to the same bytes) is told by
      // its time and mode: without them, make here and in the next job rebuilds it again forever.
      // Two tasks that wrote the same bytes are no conflict: the lower task's time and mode stand.
      if (edited || sameMetadata(local, p) || (holder !== undefined && holder < opts.claims!.index)) return done(p.path, "identical", report.identical);
      await setMetadata(abs, p);
      opts.claims?.take(p.path, p);
      return done(p.path, "touched", report.touched);
    }
    const settled = holder === undefined ? undefined : settle(opts.claims!, p.path, holder);
    if (settled?.displaced) await rename(abs, join(root, settled.displaced));
    const dest = settled?.dest ?? (edited ? `${p.path}.${tag}` : p.path);
    // Awaited first: `report.bytes += await ...` would read the total before the wait and lose concurrent writes.
    const written = target === undefined ? await writeFile(p, join(root, dest)) : await writeLink(p, target, join(root, dest));
    report.bytes += written;
    if (dest === p.path) opts.claims?.take(p.path, p);
    if (!edited && !settled) return done(p.path, "written", report.written);
    if (clash) return clashed(p.path, dest);
    if (settled?.displaced) report.written.push(p.path);
    report.conflicts.push(settled ? { path: p.path, savedAs: settled.displaced ?? dest, kept: settled.kept } : { path: p.path, savedAs: dest });
    opts.onFile?.(p.path, "conflict");
  };
  try {
    await eachLimited(planned.filter((e) => e.type !== "dir"), CONCURRENCY, (p) => attempt(p, () => place(p)));
  } finally {
    // Deepest first: a parent without write or search permission must not block its children.
    for (const p of created.reverse()) {
      const abs = join(root, p.path);
      await chmod(abs, p.mode);
      await utimes(abs, ...times(p));
    }
  }

  const byPath = (a: { path: string }, b: { path: string }) => comparePaths(a.path, b.path);
  for (const list of [report.written, report.touched, report.identical]) list.sort();
  report.conflicts.sort(byPath);
  report.refused.sort(byPath);
  return report;
}

/**
 * A link is kept only when its target stays inside root: textually, and
 * through every symlink that already exists along it. A `..` after a name
 * is refused, since the kernel resolves it after following that name.
 */
async function readLinkTarget(p: PlannedEntry, root: string): Promise<string> {
  if (p.size > MAX_LINK_TARGET) throw new Refusal("symlink target is too long");
  const target = (await readVerified(p.record, p.size)).toString("utf8");
  if (target === "" || target.includes("\0")) throw new Refusal("invalid symlink target");
  if (hasDotsAfterName(target)) throw new Refusal(`symlink target ${target} has '..' after a name`);
  const resolved = resolve(dirname(join(root, p.path)), target);
  if (!isInside(root, resolved) || !isInside(root, await realpathOfPrefix(resolved))) {
    throw new Refusal(`symlink target ${target} is outside the directory`);
  }
  return target;
}

/** Same type and content; a file of the same size is read only when its mode or mtime differ from the job's, or `byMetadata` is false. */
async function sameContent(abs: string, local: ManifestEntry, p: PlannedEntry, target: string | undefined, byMetadata: boolean): Promise<boolean> {
  if (local.type !== p.type) return false;
  if (p.type === "symlink") return local.target === target;
  if (local.size !== p.size) return false;
  return (byMetadata && sameMetadata(local, p)) || (await crc32File(abs)).crc === p.record.crc32;
}

function sameMetadata(local: ManifestEntry, p: PlannedEntry): boolean {
  // A link's own time and mode mean nothing to the tools that follow it.
  if (p.type === "symlink") return true;
  return local.mtimeMs === p.mtimeMs && (local.mode & MODE_MASK) === p.mode;
}

async function setMetadata(abs: string, p: PlannedEntry): Promise<void> {
  await chmod(abs, p.mode);
  await utimes(abs, ...times(p));
}

/**
 * atime and mtime for utimes, as Dates: Node takes a negative number of
 * seconds to mean "now", so a file from before 1970 would lose its time.
 */
function times(p: PlannedEntry): [Date, Date] {
  const at = new Date(p.mtimeMs);
  return [at, at];
}

/**
 * Two tasks wrote a path with different contents: the lower index keeps it.
 * Either the incoming version goes beside, or the one in place moves beside
 * (displaced) and the incoming one takes the path.
 */
/** The local file changed since the inputs were uploaded, or appeared since. */
function isEdited(local: ManifestEntry, base: ManifestEntry | undefined): boolean {
  return base === undefined || differs(base, local);
}

function writeFile(p: PlannedEntry, dest: string): Promise<number> {
  return replaceFile(dest, async (tmp) => {
    let size: number;
    if (p.size <= SMALL_BYTES && p.record.compressedSize <= SMALL_BYTES) {
      const bytes = await readSmall(p.record, p.size);
      await writeFileWhole(tmp, bytes, { flag: "wx", mode: 0o600 });
      size = bytes.length;
    } else {
      const meter = new Crc32Meter(p.size, () => new Refusal("size mismatch: more data than the archive declares"));
      await pipeline(await p.record.open(), meter, createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
      verify(meter, p.record, p.size);
      size = meter.size;
    }
    await chmod(tmp, p.mode);
    await utimes(tmp, ...times(p));
    return size;
  });
}

function writeLink(p: PlannedEntry, target: string, dest: string): Promise<number> {
  return replaceFile(dest, async (tmp) => {
    await symlink(target, tmp);
    await lutimes(tmp, ...times(p));
    return p.size;
  });
}

/** Why one entry failed. A full disk is not about one entry: it stops the extraction. */
function reasonFor(err: unknown, root: string): string {
  if (err instanceof Refusal) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOSPC" || e.code === "EDQUOT") {
    throw new UserError(`no space left on the disk while extracting into ${root}: free some space`);
  }
  return e.syscall ? `could not write (${e.code ?? e.message})` : `corrupt entry (${e.message})`;
}

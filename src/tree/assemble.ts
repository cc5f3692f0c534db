/**
 * Making the directory a protocol 2 tree describes, in an empty directory:
 * every directory, file and link with its exact mode and time, each file's
 * bytes read from the packs where the tree says they are and checked on the
 * way. Bytes shared by several paths are read once and copied.
 */
import { createWriteStream } from "node:fs";
import { chmod, copyFile, lutimes, mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MODE_MASK } from "../archive/entries.js";
import { readSpan, spansOf, type Span, type Wanted } from "../archive/pack-read.js";
import type { ByteSource } from "../archive/zip-reader.js";
import { UserError } from "../errors.js";
import { eachLimited } from "../pool.js";
import type { TreeEntry } from "../protocol-tree.js";
import type { EntryTable } from "./entry-table.js";
import { shownPath } from "../ui/format.js";
import { hasDotsAfterName, isInside, Refusal, unsafeEntryName } from "./paths.js";
import { replaceFile } from "./temp-files.js";

export interface AssembleOptions {
  /** What to call the tree in messages. */
  label: string;
  /** A pack's bytes; undefined when it does not exist. */
  pack(id: string): Promise<ByteSource | undefined>;
  /** Whether a failed read is worth another try from where it stopped. */
  transient(err: unknown): boolean;
}

/** A gap between wanted entries up to this is read through: cheaper than another request (job/fetch.ts, ENTRY_COST_BYTES). */
const GAP_BYTES = 300 * 1024;
/** Spans are cut at this many bytes, so a large pack is read over several connections. */
const SPAN_BYTES = 32 * 1024 * 1024;
const CONCURRENCY = 4;
const RETRIES = 5;

/** Bytes of one or more paths: entry `first` of the table, and `copies`. */
interface Content extends Wanted {
  first: number;
  copies?: number[];
}

/** The tree's entries as a table (entry-table.ts), and the packs they are in. */
export interface AssembleTree {
  packs: readonly string[];
  entries: EntryTable;
}

export async function assembleTree(tree: AssembleTree, root: string, opts: AssembleOptions): Promise<void> {
  const table = tree.entries;
  const order = table.order();
  const refused = refusals(table, order);
  if (refused.length) throw new UserError(`${opts.label} has unsafe entries: ${refused.slice(0, 5).map((r) => `${shownPath(r.path)} (${r.reason})`).join(", ")}`);
  const dirs = order.filter((i) => table.type(i) === "dir");
  // Owner-writable while they are filled; their own modes at the end, deepest first.
  for (const i of dirs) await mkdir(join(root, table.path(i)), { mode: 0o700 });
  const byPack: Content[][] = tree.packs.map(() => []);
  let last: Content | undefined;
  let lastPack = -1;
  // Bytes named at one place, by pack and offset: the same content, read once.
  for (const i of placedFiles(table, order)) {
    const e = table.entry(i);
    if (!e.at) {
      await writeFile(join(root, e.path), "", { mode: 0o600 });
      await setMetadata(join(root, e.path), e);
      continue;
    }
    const [p, offset, end] = e.at;
    if (last && lastPack === p && last.offset === offset) {
      if (last.end !== end || last.size !== e.size || last.crc32 !== e.crc32) throw new UserError(`${opts.label} is malformed: ${shownPath(e.path)} and ${shownPath(table.path(last.first))} disagree about the same bytes`);
      (last.copies ??= []).push(i);
      continue;
    }
    last = { offset, end, size: e.size, crc32: e.crc32!, first: i };
    lastPack = p;
    byPack[p]!.push(last);
  }
  const spans: { pack: string; span: Span }[] = [];
  for (const [p, wanted] of byPack.entries()) {
    const total = wanted.reduce((n, c) => n + c.end - c.offset, 0);
    for (const span of spansOf(wanted, GAP_BYTES, Math.max(SPAN_BYTES, total / CONCURRENCY))) spans.push({ pack: tree.packs[p]!, span });
  }
  byPack.length = 0;
  const sources = new Map<string, Promise<ByteSource>>();
  const source = (pack: string) => {
    let s = sources.get(pack);
    if (!s) sources.set(pack, (s = opts.pack(pack).then((b) => b ?? Promise.reject(new UserError(`pack ${pack} of ${opts.label} is gone (expired, or deleted): run nbatch build again to upload it anew`)))));
    return s;
  };
  await eachLimited(spans, CONCURRENCY, ({ pack, span }) => readWithRetries(source, pack, span, root, table, opts));
  for (const i of order) if (table.type(i) === "symlink") await placeLink(root, table.entry(i));
  for (const i of dirs.reverse()) await setMetadata(join(root, table.path(i)), table.entry(i));
}

/**
 * The files in order of where their bytes are (those of no bytes first), so
 * paths that name the same bytes come together, in path order (the sort is stable).
 */
function placedFiles(table: EntryTable, order: Uint32Array): Uint32Array {
  const files = order.filter((i) => table.type(i) === "file");
  return files.sort((a, b) => table.packOf(a) - table.packOf(b) || table.offsetOf(a) - table.offsetOf(b));
}

/** A span's entries into their files; a transfer that broke off goes on from the entry it was in. */
async function readWithRetries(source: (pack: string) => Promise<ByteSource>, pack: string, span: Span, root: string, table: EntryTable, opts: AssembleOptions): Promise<void> {
  let left = span.entries as Content[];
  for (let failures = 0; left.length; ) {
    // Entries are taken in order: those before `done` are in place.
    let done = 0;
    try {
      await readSpan(await source(pack), { start: left[0]!.offset, end: span.end, entries: left }, async (w, deliver) => {
        const c = w as Content;
        const first = table.entry(c.first);
        const dest = join(root, first.path);
        await replaceFile(dest, async (tmp) => {
          await deliver(createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
          await setMetadata(tmp, first);
        });
        for (const e of (c.copies ?? []).map((i) => table.entry(i))) {
          await replaceFile(join(root, e.path), async (tmp) => {
            await copyFile(dest, tmp);
            await setMetadata(tmp, e);
          });
        }
        done++;
      });
      return;
    } catch (err) {
      if (err instanceof Refusal) throw new UserError(`${opts.label}: pack ${pack} does not hold the bytes the tree names (${err.message}): the inputs are corrupt`);
      left = left.slice(done);
      if (done) failures = 0;
      if (!opts.transient(err) || ++failures > RETRIES) throw err;
      await sleep(200 * 2 ** failures);
    }
  }
}

/** Paths that would leave the directory, or go through a link the tree makes, or whose parent the tree does not have. */
function refusals(table: EntryTable, order: Uint32Array): { path: string; reason: string }[] {
  const dirs = new Set<string>();
  const refused: { path: string; reason: string }[] = [];
  // In path order, entries at one path come together: a duplicate follows the one that was kept.
  let kept: string | undefined;
  for (const i of order) {
    const e = table.entry(i);
    const unsafe = unsafeEntryName(e.path);
    const parent = e.path.includes("/") ? e.path.slice(0, e.path.lastIndexOf("/")) : undefined;
    const reason = unsafe ?? (kept === e.path ? "a duplicate" : parent !== undefined && !dirs.has(parent) ? "its parent is not a directory of the tree" : undefined) ?? linkProblem(e);
    if (reason) refused.push({ path: e.path, reason });
    else {
      kept = e.path;
      if (e.type === "dir") dirs.add(e.path);
    }
  }
  return refused;
}

function linkProblem(e: TreeEntry): string | undefined {
  if (e.type !== "symlink") return undefined;
  const target = e.target ?? "";
  if (target === "" || target.includes("\0")) return "an invalid link target";
  if (hasDotsAfterName(target)) return `its target ${target} has '..' after a name`;
  const root = resolve("/nbatch-root");
  return isInside(root, resolve(dirname(join(root, e.path)), target)) ? undefined : `its target ${target} is outside the directory`;
}

async function placeLink(root: string, e: TreeEntry): Promise<void> {
  const abs = join(root, e.path);
  await symlink(e.target!, abs);
  await lutimes(abs, ...times(e));
}

async function setMetadata(abs: string, e: TreeEntry): Promise<void> {
  await chmod(abs, e.mode & MODE_MASK);
  await utimes(abs, ...times(e));
}

/** As Dates: Node takes a negative number of seconds for "now", and a file from before 1970 would lose its time. */
function times(e: TreeEntry): [Date, Date] {
  const at = new Date(e.mtimeMs);
  return [at, at];
}

/**
 * Protocol 2's inputs (docs/protocol.md): which files' bytes are already in
 * a pack under the prefix and which go up in this run's pack, and the tree
 * that says, for every path, where its bytes are.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createGzip } from "node:zlib";
import { PROTOCOL_VERSION } from "../protocol.js";
import { TREE_GZIP, type TreeEntry } from "../protocol-tree.js";
import type { ManifestEntry } from "../tree/manifest.js";

/** Where a file's bytes lie in a pack, and what they check to. */
export interface Location {
  pack: string;
  offset: number;
  end: number;
  crc32: number;
}

/**
 * A tree never references more packs than this, its own run's included: each
 * costs the job at least one request, and the files of the packs least used
 * go up again instead (docs/performance.md, "Incremental inputs").
 */
export const MAX_PACKS = 16;

export interface InputsPlan {
  /** Files whose bytes are already in S3. */
  reused: Map<string, Location>;
  /** Files whose bytes go into this run's pack: one for each content, when the hashes are known. */
  fresh: ManifestEntry[];
  /** Files with the same bytes as one of `fresh`: its index there. */
  sameAs: Map<string, number>;
  /** Files that were in S3 but go up again, so the tree stays within MAX_PACKS. */
  repacked: number;
}

export interface Tally {
  files: number;
  bytes: number;
}

/**
 * Sorts the directory's files into reused and fresh. `known` is the content
 * already in usable packs, by SHA-256; a file whose hash is not known goes up.
 * Each content is taken from the pack that holds the most of this tree's
 * bytes, so the tree spans few packs.
 */
export function planInputs(entries: readonly ManifestEntry[], shaOf: (e: ManifestEntry) => string | undefined, known: ReadonlyMap<string, readonly Location[]>): InputsPlan {
  const files = entries.filter((e) => e.type === "file" && e.size > 0);
  const cover = new Map<string, number>();
  for (const e of files) for (const l of new Set(known.get(shaOf(e) ?? "")?.map((l) => l.pack))) cover.set(l, (cover.get(l) ?? 0) + e.size);
  const reused = new Map<string, Location>();
  for (const e of files) {
    const best = known.get(shaOf(e) ?? "")?.reduce((a, b) => (cover.get(b.pack)! > cover.get(a.pack)! || (cover.get(b.pack) === cover.get(a.pack) && b.pack > a.pack) ? b : a));
    if (best) reused.set(e.path, best);
  }
  const repacked = boundPacks(files, reused);
  const fresh: ManifestEntry[] = [];
  const sameAs = new Map<string, number>();
  const first = new Map<string, number>();
  for (const e of files) {
    if (reused.has(e.path)) continue;
    const sha = shaOf(e);
    const twin = sha ? first.get(sha) : undefined;
    if (twin !== undefined) sameAs.set(e.path, twin);
    else {
      if (sha) first.set(sha, fresh.length);
      fresh.push(e);
    }
  }
  return { reused, fresh, sameAs, repacked };
}

/** Leaves the least used packs out until the tree spans at most MAX_PACKS, its own pack included; returns how many files that puts back. */
function boundPacks(files: readonly ManifestEntry[], reused: Map<string, Location>): number {
  const bytes = new Map<string, number>();
  for (const e of files) {
    const l = reused.get(e.path);
    if (l) bytes.set(l.pack, (bytes.get(l.pack) ?? 0) + e.size);
  }
  const ownPack = files.length > reused.size ? 1 : 0;
  if (bytes.size + ownPack <= MAX_PACKS) return 0;
  const dropped = new Set([...bytes].sort((a, b) => a[1] - b[1]).slice(0, bytes.size + 1 - MAX_PACKS).map(([pack]) => pack));
  let moved = 0;
  for (const [path, l] of reused) {
    if (!dropped.has(l.pack)) continue;
    reused.delete(path);
    moved++;
  }
  return moved;
}

/** How many files, and bytes, are reused and go up. */
export function tallies(entries: readonly ManifestEntry[], plan: InputsPlan): { reused: Tally; fresh: Tally } {
  const reused = { files: 0, bytes: 0 };
  const fresh = { files: 0, bytes: 0 };
  for (const e of entries) {
    if (e.type !== "file") continue;
    const t = plan.reused.has(e.path) ? reused : fresh;
    t.files++;
    t.bytes += e.size;
  }
  return { reused, fresh };
}

/** Where this run's pack put each of `plan.fresh`, by its index there. */
export interface Placed {
  location(index: number): Location;
}

/**
 * Each of the entries with where its bytes are, when it is a file of some:
 * `fresh` files, and their twins, by their index in `plan.fresh` (entries
 * and `plan.fresh` are in the same order, so no lookup by path is needed).
 */
export function* placedEntries(entries: readonly ManifestEntry[], plan: InputsPlan): Generator<[ManifestEntry, Location | number | undefined]> {
  let next = 0;
  for (const e of entries) {
    if (e === plan.fresh[next]) yield [e, next++];
    else yield [e, plan.reused.get(e.path) ?? plan.sameAs.get(e.path)];
  }
}

export interface BuiltTree {
  /** The tree's object: its JSON, gzip'd. */
  gz: Buffer;
  /** SHA-256 of the JSON: the tree's name. */
  fingerprint: string;
}

/** Text given to the hash and the gzip stream at once: few calls, and no string of the whole tree. */
const TEXT_BATCH = 64 * 1024;

/**
 * The tree of the directory, once every file's bytes have a place: the
 * reused ones', and the packed ones' (`placed`). Its text is the same for
 * the same directory and places on every machine, so two runs that make
 * the same tree write the same object. It is written out entry by entry,
 * hashed and gzip'd as it goes: for 200,000 files, a whole JSON string and
 * an object for each entry would be tens of megabytes held at once.
 */
export async function buildTree(entries: readonly ManifestEntry[], plan: InputsPlan, placed?: Placed): Promise<BuiltTree> {
  const where = (at: Location | number | undefined) => (typeof at === "number" ? placed?.location(at) : at);
  const packs = new Set<string>();
  for (const [, at] of placedEntries(entries, plan)) {
    const pack = where(at)?.pack;
    if (pack !== undefined) packs.add(pack);
  }
  const names = [...packs].sort();
  const index = new Map(names.map((p, i) => [p, i]));
  const hash = createHash("sha256");
  const gzip = createGzip(TREE_GZIP);
  const out: Buffer[] = [];
  gzip.on("data", (c: Buffer) => out.push(c));
  const ended = new Promise((resolve, reject) => gzip.once("end", resolve).once("error", reject));
  let text = `{"protocol":${PROTOCOL_VERSION},"packs":${JSON.stringify(names)},"entries":[`;
  const emit = async (piece: string, force = false) => {
    text += piece;
    if (text.length < TEXT_BATCH && !force) return;
    hash.update(text);
    const room = gzip.write(text);
    text = "";
    if (!room) await once(gzip, "drain");
  };
  let sep = "";
  for (const [e, at] of placedEntries(entries, plan)) {
    const t: TreeEntry = { path: e.path, type: e.type, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode };
    if (e.target !== undefined) t.target = e.target;
    if (e.type === "file" && e.size > 0) {
      const l = where(at);
      if (!l) throw new Error(`no place for the bytes of ${e.path}`);
      t.crc32 = l.crc32;
      t.at = [index.get(l.pack)!, l.offset, l.end];
    }
    await emit(sep + JSON.stringify(t));
    sep = ",";
  }
  await emit("]}", true);
  gzip.end();
  await ended;
  return { gz: Buffer.concat(out), fingerprint: hash.digest("hex") };
}

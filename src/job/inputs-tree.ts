/**
 * Protocol 2's inputs (docs/protocol.md): which files' bytes are already in
 * a pack under the prefix and which go up in this run's pack, and the tree
 * that says, for every path, where its bytes are.
 */
import { createHash } from "node:crypto";
import { PROTOCOL_VERSION } from "../protocol.js";
import type { InputsTree, TreeEntry } from "../protocol-tree.js";
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
  /** Files with the same bytes as one of `fresh`, by its path. */
  sameAs: Map<string, string>;
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
export function planInputs(entries: readonly ManifestEntry[], shaOf: (path: string) => string | undefined, known: ReadonlyMap<string, readonly Location[]>): InputsPlan {
  const files = entries.filter((e) => e.type === "file" && e.size > 0);
  const cover = new Map<string, number>();
  for (const e of files) for (const l of new Set(known.get(shaOf(e.path) ?? "")?.map((l) => l.pack))) cover.set(l, (cover.get(l) ?? 0) + e.size);
  const reused = new Map<string, Location>();
  for (const e of files) {
    const best = known.get(shaOf(e.path) ?? "")?.reduce((a, b) => (cover.get(b.pack)! > cover.get(a.pack)! || (cover.get(b.pack) === cover.get(a.pack) && b.pack > a.pack) ? b : a));
    if (best) reused.set(e.path, best);
  }
  const repacked = boundPacks(files, reused);
  const fresh: ManifestEntry[] = [];
  const sameAs = new Map<string, string>();
  const first = new Map<string, string>();
  for (const e of files) {
    if (reused.has(e.path)) continue;
    const sha = shaOf(e.path);
    const twin = sha && first.get(sha);
    if (twin) sameAs.set(e.path, twin);
    else {
      if (sha) first.set(sha, e.path);
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

export interface BuiltTree {
  tree: InputsTree;
  /** The tree's manifest.json, exactly. */
  json: string;
  /** SHA-256 of json: the tree's name. */
  fingerprint: string;
}

/**
 * The tree of the directory, once every file's bytes have a place: the
 * reused ones', and the packed ones' (`packed`, by path). Its text is the
 * same for the same directory and places on every machine, so two runs that
 * make the same tree write the same object.
 */
export function buildTree(entries: readonly ManifestEntry[], plan: InputsPlan, packed: ReadonlyMap<string, Location>): BuiltTree {
  const where = (path: string) => plan.reused.get(path) ?? packed.get(path) ?? packed.get(plan.sameAs.get(path) ?? "");
  const packs = [...new Set(entries.map((e) => where(e.path)?.pack).filter((p): p is string => p !== undefined))].sort();
  const index = new Map(packs.map((p, i) => [p, i]));
  const treeEntries: TreeEntry[] = entries.map((e) => {
    const t: TreeEntry = { path: e.path, type: e.type, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode };
    if (e.target !== undefined) t.target = e.target;
    if (e.type !== "file" || e.size === 0) return t;
    const l = where(e.path);
    if (!l) throw new Error(`no place for the bytes of ${e.path}`);
    t.crc32 = l.crc32;
    t.at = [index.get(l.pack)!, l.offset, l.end];
    return t;
  });
  const tree: InputsTree = { protocol: PROTOCOL_VERSION, packs, entries: treeEntries };
  const json = JSON.stringify(tree);
  return { tree, json, fingerprint: createHash("sha256").update(json).digest("hex") };
}

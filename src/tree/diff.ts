import { EntryTable } from "./entry-table.js";
import type { ManifestEntry } from "./manifest.js";

/**
 * What a command did to a tree: entries that are new or differ, and paths
 * that disappeared. A directory whose only change is its mtime is not
 * "changed" (adding a child moves it; the child is reported instead), and a
 * deleted directory is reported once, not with each of its children. The
 * tree before is best given as a table (entry-table.ts): it is looked up,
 * not copied into a map.
 */
export function diffManifests(
  before: EntryTable | readonly ManifestEntry[],
  after: readonly ManifestEntry[],
): { changed: ManifestEntry[]; deleted: string[] } {
  const old = before instanceof EntryTable ? before : EntryTable.of(before);
  const still = new Uint8Array(old.length);
  const changed = after.filter((e) => {
    const i = old.find(e.path);
    if (i >= 0) still[i] = 1;
    return i < 0 || differs(old.entry(i), e);
  });

  const gone = new Set<string>();
  for (let i = 0; i < old.length; i++) if (!still[i]) gone.add(old.path(i));
  const deleted = [...gone].filter((p) => !hasGoneAncestor(p, gone)).sort();
  return { changed, deleted };
}

/** Whether two entries for the same path describe different content or metadata. */
export function differs(a: ManifestEntry, b: ManifestEntry): boolean {
  return (
    a.type !== b.type ||
    a.size !== b.size ||
    a.mode !== b.mode ||
    a.target !== b.target ||
    (a.type !== "dir" && a.mtimeMs !== b.mtimeMs)
  );
}

function hasGoneAncestor(path: string, gone: ReadonlySet<string>): boolean {
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    if (gone.has(path.slice(0, i))) return true;
  }
  return false;
}

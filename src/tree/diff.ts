import type { ManifestEntry } from "./manifest.js";

/**
 * What a command did to a tree: entries that are new or differ, and paths
 * that disappeared. A directory whose only change is its mtime is not
 * "changed" (adding a child moves it; the child is reported instead), and a
 * deleted directory is reported once, not with each of its children.
 */
export function diffManifests(
  before: readonly ManifestEntry[],
  after: readonly ManifestEntry[],
): { changed: ManifestEntry[]; deleted: string[] } {
  const old = new Map(before.map((e) => [e.path, e]));
  const now = new Set(after.map((e) => e.path));

  const changed = after.filter((e) => {
    const b = old.get(e.path);
    return b === undefined || differs(b, e);
  });

  const gone = new Set(before.filter((e) => !now.has(e.path)).map((e) => e.path));
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

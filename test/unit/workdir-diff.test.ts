import { describe, expect, it } from "vitest";
import { diffManifests } from "../../src/tree/diff.js";
import type { ManifestEntry } from "../../src/tree/manifest.js";

const file = (path: string, over: Partial<ManifestEntry> = {}): ManifestEntry => ({
  path,
  type: "file",
  size: 10,
  mtimeMs: 1000,
  mode: 0o644,
  ...over,
});
const dir = (path: string, over: Partial<ManifestEntry> = {}): ManifestEntry => ({
  path,
  type: "dir",
  size: 0,
  mtimeMs: 1000,
  mode: 0o755,
  ...over,
});

describe("diffManifests", () => {
  it("finds nothing between identical manifests", () => {
    const entries = [dir("d"), file("d/a"), file("b")];
    expect(diffManifests(entries, entries.map((e) => ({ ...e })))).toEqual({ changed: [], deleted: [] });
  });

  it("reports new entries and entries whose size, mtime, mode, type or target differ", () => {
    const before = [
      file("size"),
      file("mtime"),
      file("mode"),
      file("type"),
      { ...file("link"), type: "symlink" as const, target: "a" },
      file("same"),
    ];
    const after = [
      file("size", { size: 11 }),
      file("mtime", { mtimeMs: 1001 }),
      file("mode", { mode: 0o755 }),
      dir("type"),
      { ...file("link"), type: "symlink" as const, target: "b" },
      file("same"),
      file("new"),
    ];
    expect(diffManifests(before, after).changed.map((e) => e.path)).toEqual([
      "size",
      "mtime",
      "mode",
      "type",
      "link",
      "new",
    ]);
  });

  it("does not count a directory whose only change is its mtime", () => {
    const { changed } = diffManifests([dir("d")], [dir("d", { mtimeMs: 5000 }), file("d/new")]);
    expect(changed.map((e) => e.path)).toEqual(["d/new"]);
    expect(diffManifests([dir("d")], [dir("d", { mode: 0o700 })]).changed).toHaveLength(1);
  });

  it("reports a new empty directory", () => {
    expect(diffManifests([], [dir("out")]).changed).toEqual([dir("out")]);
  });

  it("lists a deleted directory once, not each child", () => {
    const before = [dir("gone"), dir("gone/sub"), file("gone/sub/a"), file("gone/b"), file("kept"), file("lost")];
    expect(diffManifests(before, [file("kept")]).deleted).toEqual(["gone", "lost"]);
  });

  it("lists deleted children of a directory that remains", () => {
    const before = [dir("d"), file("d/a"), file("d/b")];
    expect(diffManifests(before, [dir("d"), file("d/b")]).deleted).toEqual(["d/a"]);
  });
});

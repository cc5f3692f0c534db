import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { buildTree, planInputs, type Location } from "../../src/job/inputs-tree.js";
import { scanDirectory, statEntry, type ManifestEntry } from "../../src/tree/manifest.js";
import { createExcluder } from "../../src/tree/patterns.js";
import { tempDir } from "./workdir-helpers.js";

const defaults = createExcluder([]);

function tree(): string {
  const root = tempDir();
  mkdirSync(join(root, "src/empty"), { recursive: true });
  writeFileSync(join(root, "src/run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  writeFileSync(join(root, "secret.txt"), "s", { mode: 0o600 });
  writeFileSync(join(root, "a-b"), "sorts before a/");
  mkdirSync(join(root, "a"));
  writeFileSync(join(root, "a/x"), "xx");
  mkdirSync(join(root, ".git/objects"), { recursive: true });
  writeFileSync(join(root, ".git/objects/o1"), "obj");
  mkdirSync(join(root, ".snakemake/log"), { recursive: true });
  mkdirSync(join(root, ".snakemake/conda"), { recursive: true });
  writeFileSync(join(root, ".snakemake/log/run.log"), "log");
  writeFileSync(join(root, ".snakemake/conda/env.tar"), "big");
  return root;
}

describe("scanDirectory", () => {
  it("tells a name that is not UTF-8 from one with a real U+FFFD in it, and refuses backslashes", async () => {
    const root = tempDir();
    mkdirSync(join(root, "d"));
    writeFileSync(join(root, "d", "real\uFFFD.txt"), "kept");
    writeFileSync(Buffer.concat([Buffer.from(join(root, "d", "bad")), Buffer.from([0xff]), Buffer.from(".txt")]), "not UTF-8");
    writeFileSync(join(root, "back\\slash"), "x");
    const m = await scanDirectory(root, defaults);
    expect(m.entries.map((e) => e.path)).toEqual(["d", "d/real\uFFFD.txt"]);
    expect(m.skipped).toEqual([
      { path: "back\\slash", reason: "its name contains a backslash, which zip readers take for a separator: rename it" },
      { path: "d/bad\\xff.txt", reason: "its name is not valid UTF-8, and archives carry UTF-8 names only: rename it" },
    ]);
  });

  it("lists entries sorted by path with modes, sizes and whole-ms mtimes", async () => {
    const root = tree();
    utimesSync(join(root, "a/x"), 1_700_000_000, 1_700_000_000.1234567);
    const m = await scanDirectory(root, defaults);
    expect(m.entries.map((e) => e.path)).toEqual([
      ".snakemake",
      ".snakemake/log",
      ".snakemake/log/run.log",
      "a",
      "a-b",
      "a/x",
      "secret.txt",
      "src",
      "src/empty",
      "src/run.sh",
    ]);
    const byPath = new Map(m.entries.map((e) => [e.path, e]));
    expect(byPath.get("src/run.sh")).toMatchObject({ type: "file", mode: 0o755, size: 18 });
    expect(byPath.get("secret.txt")).toMatchObject({ type: "file", mode: 0o600, size: 1 });
    expect(byPath.get("src/empty")).toMatchObject({ type: "dir", size: 0 });
    expect(byPath.get("a/x")!.mtimeMs).toBe(1_700_000_000_123);
    expect(m.files).toBe(5);
    expect(m.bytes).toBe(18 + 1 + 15 + 2 + 3);
  });

  it("cuts a time in a second's last millisecond rather than carry it into the next second", async () => {
    const root = tree();
    utimesSync(join(root, "a/x"), 1_700_000_000, 1_700_000_000.9996);
    const m = await scanDirectory(root, defaults);
    expect(m.entries.find((e) => e.path === "a/x")!.mtimeMs).toBe(1_700_000_000_999);
  });

  it("reports excluded directories once, without descending", async () => {
    const m = await scanDirectory(tree(), defaults);
    expect(m.excluded).toEqual([
      { path: ".git", rule: "default: .git/" },
      { path: ".snakemake/conda", rule: "default: **/.snakemake/*" },
    ]);
  });

  it("keeps symlinks that stay inside and leaves out those that leave", async () => {
    const root = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, "target"), "t");
    mkdirSync(join(root, "d"));
    writeFileSync(join(root, "d/file"), "f");
    symlinkSync("d/file", join(root, "inside"));
    symlinkSync("../d", join(root, "d/loop-up"));
    symlinkSync(join(outside, "target"), join(root, "abs-out"));
    symlinkSync("../../etc/passwd", join(root, "d/rel-out"));
    symlinkSync("missing/inside", join(root, "dangling-in"));
    symlinkSync("../../nowhere", join(root, "dangling-out"));
    symlinkSync(outside, join(root, "dirlink-out"));
    symlinkSync("dirlink-out/new-file", join(root, "through-out"));

    const m = await scanDirectory(root, defaults);
    const links = m.entries.filter((e) => e.type === "symlink");
    expect(links.map((e) => [e.path, e.target])).toEqual([
      ["d/loop-up", "../d"],
      ["dangling-in", "missing/inside"],
      ["inside", "d/file"],
    ]);
    expect(m.excluded.map((e) => e.path)).toEqual([
      "abs-out",
      "d/rel-out",
      "dangling-out",
      "dirlink-out",
      "through-out",
    ]);
    expect(new Set(m.excluded.map((e) => e.rule))).toEqual(new Set(["symlink outside the directory"]));
  });

  it("rewrites absolute and ..-after-a-name links that stay inside as relative ones, so they work in the job's copy", async () => {
    const root = tempDir();
    mkdirSync(join(root, "sub/deep"), { recursive: true });
    writeFileSync(join(root, "sub/deep/f"), "f");
    symlinkSync(join(root, "sub"), join(root, "abs-dir"));
    symlinkSync(join(root, "sub/deep/f"), join(root, "sub/abs-file"));
    symlinkSync("deep/../deep/f", join(root, "sub/dotted"));
    const m = await scanDirectory(root, defaults);
    expect(m.entries.filter((e) => e.type === "symlink").map((e) => [e.path, e.target])).toEqual([
      ["abs-dir", "sub"],
      ["sub/abs-file", "deep/f"],
      ["sub/dotted", "deep/f"],
    ]);
  });

  it("skips fifos as not regular files", async () => {
    const root = tempDir();
    execFileSync("mkfifo", [join(root, "pipe")]);
    writeFileSync(join(root, "f"), "");
    const m = await scanDirectory(root, defaults);
    expect(m.entries.map((e) => e.path)).toEqual(["f"]);
    expect(m.excluded).toEqual([{ path: "pipe", rule: "not a regular file" }]);
  });

  it("fails with a UserError for a directory that does not exist", async () => {
    await expect(scanDirectory(join(tempDir(), "nope"), defaults)).rejects.toThrow(UserError);
  });

  describe("unreadable paths", () => {
    // Root reads everything, so as root the scan runs with an unprivileged
    // effective uid (seteuid is per process: vitest's forks pool allows it).
    const asRoot = process.getuid?.() === 0;
    const canDrop = !asRoot || typeof process.seteuid === "function";
    const scanAsUser = async (root: string, exclude = defaults) => {
      if (!asRoot) return scanDirectory(root, exclude);
      chmodSync(root, 0o755);
      process.seteuid!(65534);
      try {
        return await scanDirectory(root, exclude);
      } finally {
        process.seteuid!(0);
      }
    };

    it.skipIf(!canDrop)("names an unreadable file and how to fix it", async () => {
      const root = tempDir();
      writeFileSync(join(root, "locked.dat"), "x", { mode: 0o000 });
      chmodSync(join(root, "locked.dat"), 0o000);
      const err = await scanAsUser(root).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/locked\.dat.*--exclude-from-upload/);
    });

    it.skipIf(!canDrop)("names an unreadable directory", async () => {
      const root = tempDir();
      mkdirSync(join(root, "private"));
      chmodSync(join(root, "private"), 0o000);
      await expect(scanAsUser(root)).rejects.toThrow(/Cannot read private: permission denied/);
    });

    it.skipIf(!canDrop)("does not mind an unreadable path that is excluded", async () => {
      const root = tempDir();
      mkdirSync(join(root, "private"));
      chmodSync(join(root, "private"), 0o000);
      const m = await scanAsUser(root, createExcluder(["private/"]));
      expect(m.excluded).toEqual([{ path: "private", rule: "private/" }]);
    });
  });
});

/** The name of the tree of these entries, each file's bytes placed at a fixed spot. */
async function fingerprint(entries: readonly ManifestEntry[]): Promise<string> {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const plan = planInputs(sorted, () => undefined, new Map());
  // Each file's bytes at a spot of its own, fixed by its place in the sorted entries.
  const place = new Map(sorted.map((e, i) => [e.path, i]));
  const spot = (path: string): Location => ({ pack: "p", offset: place.get(path)! * 100, end: place.get(path)! * 100 + 50, crc32: 0 });
  return (await buildTree(sorted, plan, { location: (i) => spot(plan.fresh[i]!.path) })).fingerprint;
}

describe("the tree's name", () => {
  it("is stable across scans and independent of entry order", async () => {
    const root = tree();
    const a = await scanDirectory(root, defaults);
    const b = await scanDirectory(root, defaults);
    expect(await fingerprint(a.entries)).toMatch(/^[0-9a-f]{64}$/);
    expect(await fingerprint(b.entries)).toBe(await fingerprint(a.entries));
    expect(await fingerprint([...a.entries].reverse())).toBe(await fingerprint(a.entries));
  });

  it("changes when a file's mtime, mode or size changes", async () => {
    const root = tree();
    const base = await fingerprint((await scanDirectory(root, defaults)).entries);
    utimesSync(join(root, "a/x"), 1_600_000_000, 1_600_000_000);
    const touched = await fingerprint((await scanDirectory(root, defaults)).entries);
    expect(touched).not.toBe(base);
    chmodSync(join(root, "a/x"), 0o700);
    const chmodded = await fingerprint((await scanDirectory(root, defaults)).entries);
    expect(chmodded).not.toBe(touched);
    writeFileSync(join(root, "a/x"), "xxx");
    utimesSync(join(root, "a/x"), 1_600_000_000, 1_600_000_000);
    expect(await fingerprint((await scanDirectory(root, defaults)).entries)).not.toBe(chmodded);
  });

  it("changes with a directory's mode and time, which the job gets exactly", async () => {
    const dir: ManifestEntry = { path: "d", type: "dir", size: 0, mtimeMs: 1, mode: 0o755 };
    expect(await fingerprint([dir])).not.toBe(await fingerprint([{ ...dir, mtimeMs: 2 }]));
    expect(await fingerprint([dir])).not.toBe(await fingerprint([{ ...dir, mode: 0o700 }]));
  });

  it("distinguishes symlink targets", async () => {
    const link: ManifestEntry = { path: "l", type: "symlink", size: 1, mtimeMs: 1, mode: 0o777, target: "a" };
    expect(await fingerprint([link])).not.toBe(await fingerprint([{ ...link, target: "b" }]));
  });
});

describe("statEntry", () => {
  it("describes a file, a symlink, or nothing", async () => {
    const root = tempDir();
    writeFileSync(join(root, "f"), "abc", { mode: 0o640 });
    chmodSync(join(root, "f"), 0o640);
    symlinkSync("f", join(root, "l"));
    expect(await statEntry(root, "f")).toMatchObject({ path: "f", type: "file", size: 3, mode: 0o640 });
    expect(await statEntry(root, "l")).toMatchObject({ path: "l", type: "symlink", target: "f" });
    expect(await statEntry(root, "missing")).toBeUndefined();
    expect(await statEntry(root, "f/under-a-file")).toBeUndefined();
  });
});

import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { extractZip, type ExtractOptions } from "../../src/tree/extract.js";
import { statEntry, type ManifestEntry } from "../../src/tree/manifest.js";
import { createSelector } from "../../src/tree/patterns.js";
import { buildZip, tempDir, type RawEntry } from "./workdir-helpers.js";

const LINK = 0o120777;

/** A destination inside a sandbox, so anything escaping it lands where the test can see. */
function setup(entries: readonly RawEntry[]) {
  const sandbox = tempDir();
  const dest = join(sandbox, "dest");
  mkdirSync(dest);
  const archivePath = join(sandbox, "in.zip");
  writeFileSync(archivePath, buildZip(entries));
  const run = (opts: Partial<ExtractOptions> = {}) => extractZip({ archivePath, destRoot: dest, ...opts });
  return { sandbox, dest, archivePath, run };
}

function tempLeftovers(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => p.split("/").pop()!.startsWith(".nbatch-tmp-"));
}

describe("extractZip refuses hostile names", () => {
  it.each([
    ["../escape.txt", "path contains '..'"],
    ["a/../../escape.txt", "path contains '..'"],
    ["/tmp/abs.txt", "absolute path"],
    ["a\\..\\escape.txt", "name contains a backslash"],
    ["C:/windows.txt", "drive letter in path"],
    ["c:relative.txt", "drive letter in path"],
    ["a//b.txt", "path is not normalized"],
    ["./a.txt", "path is not normalized"],
  ])("%s", async (name, reason) => {
    const { sandbox, dest, run } = setup([{ name, data: "evil" }, { name: "ok.txt", data: "ok" }]);
    const report = await run();
    expect(report.refused).toEqual([{ path: name, reason }]);
    expect(report.written).toEqual(["ok.txt"]);
    expect(readdirSync(sandbox).sort()).toEqual(["dest", "in.zip"]);
    expect(readdirSync(dest)).toEqual(["ok.txt"]);
  });
});

describe("extractZip and symlinks", () => {
  it("writes a symlink whose target stays inside", async () => {
    const { dest, run } = setup([
      { name: "data/real.txt", data: "r" },
      { name: "data/link", data: "real.txt", mode: LINK },
      { name: "data/sub/up", data: "../../data/real.txt", mode: LINK },
    ]);
    const report = await run();
    expect(report.refused).toEqual([]);
    expect(readlinkSync(join(dest, "data/link"))).toBe("real.txt");
    expect(readFileSync(join(dest, "data/link"), "utf8")).toBe("r");
    expect(readFileSync(join(dest, "data/sub/up"), "utf8")).toBe("r");
  });

  it.each([
    ["../../etc/passwd", "is outside the directory"],
    ["/etc/passwd", "is outside the directory"],
    ["sub/../x", "has '..' after a name"],
    ["..", "is outside the directory"],
  ])("refuses a symlink to %s", async (target, reason) => {
    const { dest, run } = setup([{ name: "evil", data: target, mode: LINK }]);
    const report = await run();
    expect(report.refused).toHaveLength(1);
    expect(report.refused[0]!.reason).toContain(reason);
    expect(lstatSync(join(dest, "evil"), { throwIfNoEntry: false })).toBeUndefined();
  });

  it("refuses a symlink that leaves through a symlink already on disk", async () => {
    const { sandbox, dest, run } = setup([{ name: "sneaky", data: "door/new-file", mode: LINK }]);
    symlinkSync(sandbox, join(dest, "door"));
    const report = await run();
    expect(report.refused.map((r) => r.path)).toEqual(["sneaky"]);
    expect(lstatSync(join(dest, "sneaky"), { throwIfNoEntry: false })).toBeUndefined();
  });

  it("refuses entries under a symlink the archive creates, whatever the order", async () => {
    const { sandbox, dest, run } = setup([
      { name: "a/x.txt", data: "before the link" },
      { name: "a", data: "sub", mode: LINK },
      { name: "sub/keep.txt", data: "k" },
      { name: "a/y.txt", data: "after the link" },
    ]);
    const report = await run();
    expect(report.refused).toEqual([
      { path: "a/x.txt", reason: "parent a is a symlink in the archive" },
      { path: "a/y.txt", reason: "parent a is a symlink in the archive" },
    ]);
    expect(readlinkSync(join(dest, "a"))).toBe("sub");
    expect(readdirSync(join(dest, "sub"))).toEqual(["keep.txt"]);
    expect(readdirSync(sandbox).sort()).toEqual(["dest", "in.zip"]);
  });

  it("refuses entries whose parent is a symlink on disk", async () => {
    const outside = tempDir();
    const { dest, run } = setup([{ name: "out/planted.txt", data: "x" }, { name: "out/deeper/p.txt", data: "y" }]);
    symlinkSync(outside, join(dest, "out"));
    const report = await run();
    expect(report.refused).toEqual([
      { path: "out/deeper/p.txt", reason: "parent out is a symlink" },
      { path: "out/planted.txt", reason: "parent out is a symlink" },
    ]);
    expect(readdirSync(outside)).toEqual([]);
  });
});

describe("extractZip and archive integrity", () => {
  it("writes the first of duplicate names and refuses the rest", async () => {
    const { dest, run } = setup([
      { name: "dup.txt", data: "first" },
      { name: "dup.txt", data: "second" },
      { name: "d/", mode: 0o40755 },
      { name: "d", data: "a file named like the dir" },
    ]);
    const report = await run();
    expect(report.refused).toEqual([
      { path: "d", reason: "duplicate entry in the archive" },
      { path: "dup.txt", reason: "duplicate entry in the archive" },
    ]);
    expect(readFileSync(join(dest, "dup.txt"), "utf8")).toBe("first");
    expect(statSync(join(dest, "d")).isDirectory()).toBe(true);
  });

  it("never writes .nbatch/ metadata entries", async () => {
    const { dest, run } = setup([{ name: ".nbatch/results.json", data: "{}" }, { name: ".nbatch/", mode: 0o40755 }]);
    const report = await run();
    expect(report).toMatchObject({ written: [], refused: [] });
    expect(readdirSync(dest)).toEqual([]);
  });

  it("refuses a CRC mismatch, removes the temp file and leaves the target untouched", async () => {
    const { dest, run } = setup([{ name: "f.txt", data: "tampered", crc: 0x12345678 }]);
    writeFileSync(join(dest, "f.txt"), "original");
    const report = await run();
    expect(report.refused).toEqual([{ path: "f.txt", reason: "CRC mismatch: the entry is corrupt" }]);
    expect(readFileSync(join(dest, "f.txt"), "utf8")).toBe("original");
    expect(tempLeftovers(dest)).toEqual([]);
  });

  it.each([
    ["more data than declared (deflated)", { data: "x".repeat(100_000), deflate: true, size: 10 }, /more data/],
    ["less data than declared", { data: "short", size: 50 }, /size mismatch/],
  ])("refuses %s", async (_, lie, reason) => {
    const { dest, run } = setup([{ name: "sub/f.bin", ...lie }, { name: "ok.txt", data: "ok" }]);
    const report = await run();
    expect(report.refused).toHaveLength(1);
    expect(report.refused[0]!.reason).toMatch(reason);
    expect(existsSync(join(dest, "sub/f.bin"))).toBe(false);
    expect(tempLeftovers(dest)).toEqual([]);
    expect(report.written).toEqual(["ok.txt"]);
  });

  it("throws before writing anything when entries claim more than maxBytes", async () => {
    const { dest, run } = setup([{ name: "a.txt", data: "aaaa" }, { name: "b.txt", data: "x", size: 2000 }]);
    await expect(run({ maxBytes: 1000 })).rejects.toThrow(UserError);
    expect(readdirSync(dest)).toEqual([]);
  });

  it("refuses encrypted entries and unknown compression methods", async () => {
    const { run } = setup([
      { name: "secret", data: "x", flags: 1 },
      { name: "bzip", data: "x", method: 12 },
    ]);
    expect((await run()).refused).toEqual([
      { path: "bzip", reason: "unsupported compression method 12" },
      { path: "secret", reason: "encrypted entry" },
    ]);
  });

  it("drops setuid and setgid bits", async () => {
    const { dest, run } = setup([{ name: "suid", data: "x", mode: 0o106755 }]);
    await run();
    expect(statSync(join(dest, "suid")).mode & 0o7777).toBe(0o755);
  });

  it("rejects a file that is not a zip with a UserError", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "not.zip"), "plain text, no central directory");
    await expect(extractZip({ archivePath: join(dir, "not.zip"), destRoot: dir })).rejects.toThrow(UserError);
  });
});

describe("extractZip next to local files", () => {
  const mtimeMs = 1_700_000_000_000;
  const meta = (path: string, size: number, mode = 0o644): Map<string, ManifestEntry> =>
    new Map([[path, { path, type: "file", size, mtimeMs, mode }]]);

  it("skips a local file with the same size and mtime without reading it", async () => {
    const { dest, run } = setup([{ name: "same.txt", data: "job!" }]);
    // Same size and time but other bytes: only a skip without reading leaves it alone.
    writeFileSync(join(dest, "same.txt"), "mine");
    utimesSync(join(dest, "same.txt"), mtimeMs / 1000, mtimeMs / 1000);
    const report = await run({ meta: meta("same.txt", 4) });
    expect(report.identical).toEqual(["same.txt"]);
    expect(readFileSync(join(dest, "same.txt"), "utf8")).toBe("mine");
  });

  it("compares content by CRC when only the mtime differs, and then only sets the job's mtime", async () => {
    const { dest, run } = setup([{ name: "same.txt", data: "same" }, { name: "other.txt", data: "new!" }]);
    writeFileSync(join(dest, "same.txt"), "same");
    writeFileSync(join(dest, "other.txt"), "old!");
    utimesSync(join(dest, "same.txt"), new Date(-1_000_000), new Date(-1_000_000));
    const inode = statSync(join(dest, "same.txt")).ino;
    const report = await run({ meta: meta("same.txt", 4) });
    expect(report.touched).toEqual(["same.txt"]);
    expect(report.written).toEqual(["other.txt"]);
    expect(statSync(join(dest, "same.txt")).ino).toBe(inode);
    expect(statSync(join(dest, "same.txt")).mtimeMs).toBe(mtimeMs);
    expect(readFileSync(join(dest, "other.txt"), "utf8")).toBe("new!");
  });

  it("keeps a file edited while the job ran and saves the job's version beside it", async () => {
    const { dest, run } = setup([
      { name: "edited.txt", data: "job version" },
      { name: "untouched.txt", data: "job version" },
      { name: "appeared.txt", data: "job version" },
    ]);
    writeFileSync(join(dest, "edited.txt"), "at upload");
    writeFileSync(join(dest, "untouched.txt"), "at upload");
    const baseline = new Map<string, ManifestEntry>();
    for (const p of ["edited.txt", "untouched.txt"]) baseline.set(p, (await statEntry(dest, p))!);
    writeFileSync(join(dest, "edited.txt"), "edited locally meanwhile");
    writeFileSync(join(dest, "appeared.txt"), "created locally meanwhile");

    const events: string[] = [];
    const report = await run({ baseline, conflictTag: "0190abcd", onFile: (p, a) => events.push(`${a} ${p}`) });

    expect(report.conflicts).toEqual([
      { path: "appeared.txt", savedAs: "appeared.txt.nbatch-0190abcd" },
      { path: "edited.txt", savedAs: "edited.txt.nbatch-0190abcd" },
    ]);
    expect(report.written).toEqual(["untouched.txt"]);
    expect(readFileSync(join(dest, "edited.txt"), "utf8")).toBe("edited locally meanwhile");
    expect(readFileSync(join(dest, "appeared.txt"), "utf8")).toBe("created locally meanwhile");
    expect(readFileSync(join(dest, "edited.txt.nbatch-0190abcd"), "utf8")).toBe("job version");
    expect(readFileSync(join(dest, "untouched.txt"), "utf8")).toBe("job version");
    expect(events.sort()).toEqual(["conflict appeared.txt", "conflict edited.txt", "written untouched.txt"]);
  });

  it("writes only selected entries and never deletes local files", async () => {
    const { dest, run } = setup([
      { name: "results/a.csv", data: "a" },
      { name: "results/a.log", data: "l" },
      { name: "scratch/tmp.dat", data: "t" },
    ]);
    writeFileSync(join(dest, "local-only.txt"), "mine");
    const report = await run({ select: createSelector(["results/"], ["*.log"]) });
    expect(report.written).toEqual(["results/a.csv"]);
    expect(report.bytes).toBe(1);
    expect(readdirSync(dest).sort()).toEqual(["local-only.txt", "results"]);
    expect(readdirSync(join(dest, "results"))).toEqual(["a.csv"]);
  });

  it("leaves an identical symlink, and puts the job's directory beside a local file of its name, never over it", async () => {
    const { dest, run } = setup([
      { name: "link", data: "target.txt", mode: LINK },
      { name: "was-file/", mode: 0o40755 },
      { name: "was-file/inner.txt", data: "i" },
    ]);
    symlinkSync("target.txt", join(dest, "link"));
    writeFileSync(join(dest, "was-file"), "a local file");
    const report = await run();
    expect(report.identical).toEqual(["link"]);
    expect(report.refused).toEqual([]);
    expect(report.conflicts).toEqual([{ path: "was-file", savedAs: "was-file.nbatch-job", kind: "type" }]);
    expect(readFileSync(join(dest, "was-file"), "utf8")).toBe("a local file");
    expect(readFileSync(join(dest, "was-file.nbatch-job/inner.txt"), "utf8")).toBe("i");
  });

  it("puts the job's file beside a local directory of its name, never over it", async () => {
    const { dest, run } = setup([{ name: "thing", data: "file" }]);
    mkdirSync(join(dest, "thing"));
    writeFileSync(join(dest, "thing/keep"), "k");
    const report = await run();
    expect(report.refused).toEqual([]);
    expect(report.conflicts).toEqual([{ path: "thing", savedAs: "thing.nbatch-job", kind: "type" }]);
    expect(readFileSync(join(dest, "thing/keep"), "utf8")).toBe("k");
    expect(readFileSync(join(dest, "thing.nbatch-job"), "utf8")).toBe("file");
  });
});

describe("extractZip's report", () => {
  it("counts every byte written, though files are written concurrently", async () => {
    const entries = Array.from({ length: 12 }, (_, i) => ({ name: `f${i}.txt`, data: "x".repeat(1000 + i) }));
    const { run } = setup(entries);
    const report = await run();
    expect(report.written).toHaveLength(12);
    expect(report.bytes).toBe(entries.reduce((sum, e) => sum + e.data.length, 0));
  });
});

describe("extractZip and existing directories", () => {
  it("applies a mode the job changed on a directory that exists locally", async () => {
    const { dest, run } = setup([{ name: "d/", data: "", mode: 0o40700 }]);
    mkdirSync(join(dest, "d"), { mode: 0o755 });
    await run();
    expect(statSync(join(dest, "d")).mode & 0o777).toBe(0o700);
  });
});

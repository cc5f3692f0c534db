import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { notSkipped } from "../../src/protocol.js";
import { readZipEntry } from "../../src/archive/entries.js";
import { openZip } from "../../src/archive/zip-reader.js";
import { extractZip } from "../../src/tree/extract.js";
import { scanDirectory, type ManifestEntry } from "../../src/tree/manifest.js";
import { packZip, type PackOptions } from "../../src/archive/pack.js";
import { createExcluder } from "../../src/tree/patterns.js";
import { tempDir } from "./workdir-helpers.js";

const T = 1_700_000_000; // seconds

function sourceTree(): string {
  const root = tempDir();
  mkdirSync(join(root, "bin"));
  writeFileSync(join(root, "bin/run"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(join(root, "private.key"), "k", { mode: 0o600 });
  writeFileSync(join(root, "notes.txt"), "compress me ".repeat(5000));
  writeFileSync(join(root, "reads.fq.gz"), randomBytes(64 * 1024));
  writeFileSync(join(root, "big.bin"), randomBytes(3 * 1024 * 1024));
  writeFileSync(join(root, "empty.txt"), "");
  mkdirSync(join(root, "out/empty"), { recursive: true });
  mkdirSync(join(root, "locked"), { mode: 0o750 });
  writeFileSync(join(root, "locked/inner"), "i");
  symlinkSync("bin/run", join(root, "run-link"));
  utimesSync(join(root, "notes.txt"), T, T + 0.123);
  utimesSync(join(root, "bin/run"), T, T - 86_400);
  return root;
}

async function packTo(opts: PackOptions): Promise<string> {
  const zip = join(tempDir(), "a.zip");
  await pipeline(packZip(opts), createWriteStream(zip));
  return zip;
}

describe("packZip and extractZip round trip", () => {
  it("restores content, modes, mtimes, symlinks and empty directories exactly with metadata", async () => {
    const src = sourceTree();
    const manifest = await scanDirectory(src, createExcluder([]));
    const zip = await packTo({ root: src, entries: manifest.entries });

    const dest = tempDir();
    const meta = new Map(manifest.entries.map((e) => [e.path, e]));
    const report = await extractZip({ archivePath: zip, destRoot: dest, meta });

    expect(report.refused).toEqual([]);
    expect(report.written).toEqual(manifest.entries.map((e) => e.path));
    expect((await scanDirectory(dest, createExcluder([]))).entries).toEqual(manifest.entries);
    for (const name of ["notes.txt", "big.bin", "reads.fq.gz", "locked/inner"]) {
      expect(readFileSync(join(dest, name)).equals(readFileSync(join(src, name))), name).toBe(true);
    }
  });

  it("falls back to the zip's own mode and 2-second time without metadata", async () => {
    const src = sourceTree();
    const manifest = await scanDirectory(src, createExcluder([]));
    const zip = await packTo({ root: src, entries: manifest.entries });
    const dest = tempDir();
    await extractZip({ archivePath: zip, destRoot: dest });
    const got = new Map((await scanDirectory(dest, createExcluder([]))).entries.map((e) => [e.path, e]));
    for (const e of manifest.entries) {
      const g = got.get(e.path)!;
      expect({ type: g.type, mode: g.mode, size: g.size, target: g.target }, e.path).toEqual({
        type: e.type,
        mode: e.mode,
        size: e.size,
        target: e.target,
      });
      if (e.type === "file") expect(Math.abs(g.mtimeMs - e.mtimeMs), e.path).toBeLessThanOrEqual(2000);
    }
  });
});

describe("packZip", () => {
  it("stores already-compressed files and deflates the rest", async () => {
    const src = sourceTree();
    const manifest = await scanDirectory(src, createExcluder([]));
    // A fixed level: by default how hard files are deflated follows the reader's pace.
    const zip = await packTo({ root: src, entries: manifest.entries, level: 1 });
    const files = new Map((await openZip(zip)).records.map((f) => [f.path, f]));
    expect(files.get("reads.fq.gz")!.method).toBe(0);
    expect(files.get("notes.txt")!.method).toBe(8);
    expect(files.get("notes.txt")!.compressedSize).toBeLessThan(files.get("notes.txt")!.size / 10);
    expect(files.has("out/empty/")).toBe(true);
  });

  it("writes extra entries after the files, readable but never extracted", async () => {
    const src = tempDir();
    writeFileSync(join(src, "a.txt"), "a");
    const entries = (await scanDirectory(src, createExcluder([]))).entries;
    const zip = await packTo({
      root: src,
      entries,
      extra: [
        { name: ".nbatch/manifest.json", data: JSON.stringify({ entries }) },
        { name: ".nbatch/results.json", data: Buffer.from('{"exitCode":3}') },
      ],
    });
    expect((await openZip(zip)).records.map((f) => f.path)).toEqual([
      "a.txt",
      ".nbatch/manifest.json",
      ".nbatch/results.json",
    ]);
    expect(JSON.parse((await readZipEntry(zip, ".nbatch/results.json"))!.toString())).toEqual({ exitCode: 3 });
    expect(await readZipEntry(zip, ".nbatch/absent.json")).toBeUndefined();

    const dest = tempDir();
    const report = await extractZip({ archivePath: zip, destRoot: dest });
    expect(report.written).toEqual(["a.txt"]);
    expect(existsSync(join(dest, ".nbatch"))).toBe(false);
  });

  // Small files are read whole, large ones streamed: both paths must fail, not hang.
  it.each([1, 10 * 1024 * 1024])("fails the stream with a UserError when a file of %i bytes cannot be read", async (size) => {
    const src = tempDir();
    writeFileSync(join(src, "a.txt"), "a");
    const entries: ManifestEntry[] = [
      ...(await scanDirectory(src, createExcluder([]))).entries,
      { path: "vanished.txt", type: "file", size, mtimeMs: T * 1000, mode: 0o644 },
    ];
    const err = await packTo({ root: src, entries }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain("vanished.txt");
  });

  it("fails with a UserError when a file is shorter or longer than its manifest says", async () => {
    const src = tempDir();
    writeFileSync(join(src, "grew.txt"), "0123456789");
    writeFileSync(join(src, "shrank.txt"), "abc");
    writeFileSync(join(src, "big.txt"), "x".repeat(3 * 1024 * 1024 + 5));
    const [big, grew] = (await scanDirectory(src, createExcluder([]))).entries;
    const shrank: ManifestEntry = { path: "shrank.txt", type: "file", size: 2 * 1024 * 1024, mtimeMs: T * 1000, mode: 0o644 };
    const cases: [ManifestEntry, string][] = [
      [{ ...grew!, size: 4 }, "grew.txt grew while it was being packed"],
      [{ ...grew!, size: 20 }, "grew.txt shrank while it was being packed"],
      // A multi-chunk file, whose last chunk may be read into a buffer of exactly its size.
      [{ ...big!, size: 3 * 1024 * 1024 }, "big.txt grew while it was being packed"],
      [shrank, "shrank.txt shrank while it was being packed"],
    ];
    for (const [entry, message] of cases) {
      const err = await packTo({ root: src, entries: [entry] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toContain(message);
    }
  });

  it("with onSkip, leaves out files that vanished or changed size and packs the rest", async () => {
    const src = tempDir();
    writeFileSync(join(src, "grew.txt"), "0123456789");
    writeFileSync(join(src, "kept.txt"), "kept");
    writeFileSync(join(src, "shrank.bin"), randomBytes(3 * 1024 * 1024));
    const entries = (await scanDirectory(src, createExcluder([]))).entries;
    const byName = new Map(entries.map((e) => [e.path, e]));
    const gone: ManifestEntry = { ...byName.get("kept.txt")!, path: "gone.txt" };
    // The multi-chunk file loses its end after its first chunk was written.
    const shrank = { ...byName.get("shrank.bin")!, size: 5 * 1024 * 1024 };
    const skipped: [string, string][] = [];
    const zip = await packTo({
      root: src,
      entries: [gone, { ...byName.get("grew.txt")!, size: 4 }, byName.get("kept.txt")!, shrank],
      extra: [{ name: ".nbatch/late.json", data: () => JSON.stringify(skipped.map(([path]) => path)) }],
      onSkip: (path, reason) => skipped.push([path, reason]),
    });
    expect(skipped.map(([path]) => path)).toEqual(["gone.txt", "grew.txt", "shrank.bin"]);
    expect(skipped[0]![1]).toMatch(/disappeared/);
    expect(skipped[1]![1]).toMatch(/grew while it was being packed/);
    expect(skipped[2]![1]).toMatch(/shrank while it was being packed/);
    expect((await readZipEntry(zip, "kept.txt"))!.toString()).toBe("kept");
    expect(await readZipEntry(zip, "gone.txt")).toBeUndefined();
    // The data function ran after every entry before it was written.
    expect(JSON.parse((await readZipEntry(zip, ".nbatch/late.json"))!.toString())).toEqual(["gone.txt", "grew.txt", "shrank.bin"]);
    // The entry cut short is still a valid entry, readable to where it ends.
    expect((await readZipEntry(zip, "shrank.bin"))!.length).toBe(3 * 1024 * 1024);
    // Unpacked with the account of what was skipped (the agent's results.json), the cut-off
    // bytes never replace a local file of that name.
    const dest = tempDir();
    writeFileSync(join(dest, "shrank.bin"), "precious local");
    const report = await extractZip({ archivePath: zip, destRoot: dest, select: notSkipped({ skipped: skipped.map(([path, reason]) => ({ path, reason })) }) });
    expect(report.written).toEqual(["kept.txt"]);
    expect(readFileSync(join(dest, "shrank.bin"), "utf8")).toBe("precious local");
  });

  it("stops cleanly when the consumer gives up", async () => {
    const src = tempDir();
    writeFileSync(join(src, "big.bin"), randomBytes(4 * 1024 * 1024));
    const stream = packZip({ root: src, entries: (await scanDirectory(src, createExcluder([]))).entries });
    await new Promise<void>((resolve) => {
      stream.once("data", () => {
        stream.destroy();
        stream.once("close", resolve);
      });
    });
    expect(stream.destroyed).toBe(true);
  });
});

describe("generated entries", () => {
  it("writes text made in pieces, larger than a chunk and compressed, exactly as the pieces join", async () => {
    const lines = Array.from({ length: 60_000 }, (_, i) => `line ${i} ${"xy".repeat(i % 17)}\n`);
    const zip = await packTo({ root: tempDir(), entries: [], extra: [{ name: "big.txt", text: () => lines }], level: 6 });
    expect((await readZipEntry(zip, "big.txt"))!.toString()).toBe(lines.join(""));
  });
});

import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rangesFor } from "../../src/archive/ranges.js";
import type { ZipDirectory } from "../../src/archive/zip-reader.js";
import { ENTRY_COST_BYTES, fetchArchive, rangedPays, readRemoteEntry } from "../../src/job/fetch.js";
import { tempDir } from "./workdir-helpers.js";

/** A central directory with entries at these offsets (in archive order), the directory itself at `cd`, the archive `size` bytes. */
function directory(cd: number, entries: [string, number][], size = cd + 500): ZipDirectory {
  return { centralDirectoryOffset: cd, size, records: entries.map(([path, offset]) => ({ path, offset })), close() {} } as unknown as ZipDirectory;
}

const MiB = 1024 * 1024;
const dir = directory(10 * MiB, [
  ["big.bin", 0],
  ["out/", 9 * MiB],
  ["out/summary.txt", 9 * MiB + 100],
  [".nbatch/results.json", 9 * MiB + 2000],
]);

describe("rangesFor", () => {
  it("takes the central directory to the end and each wanted entry up to the next, with the agent's metadata always", () => {
    const ranges = rangesFor(dir, (p) => p === "out/summary.txt");
    expect(ranges).toEqual([
      { start: 10 * MiB, end: 10 * MiB + 500 },
      { start: 9 * MiB + 100, end: 9 * MiB + 2000 },
      { start: 9 * MiB + 2000, end: 10 * MiB },
    ]);
  });

  it("gives up on offsets that do not describe a sane archive, so the whole one is fetched and checked", () => {
    const past = directory(100, [["a", 0], ["b", 500]], 1000);
    expect(rangesFor(past, () => true)).toBeUndefined();
    expect(rangesFor(directory(2000, [["a", 0]], 1000), () => true)).toBeUndefined();
    const same = directory(100, [["a", 10], ["b", 10]], 1000);
    expect(rangesFor(same, (p) => p === "a")).toBeUndefined();
  });
});

describe("rangedPays", () => {
  it("pays while the wanted bytes and a round trip's worth per entry stay under the whole archive", () => {
    const few = rangesFor(dir, (p) => p.startsWith("out/"))!;
    expect(rangedPays(few, 10 * MiB + 500)).toBe(true);
    const most = rangesFor(dir, (p) => p === "big.bin")!;
    expect(rangedPays(most, 10 * MiB + 500)).toBe(false);
    // Entries cost their round trips: five 1 KiB entries weigh 5 x 300 KiB, more than this 1 MiB archive.
    const five = directory(MiB, Array.from({ length: 5 }, (_, i): [string, number] => [`f${i}`, MiB - (5 - i) * 1024]), MiB + 100);
    expect(5 * ENTRY_COST_BYTES).toBeGreaterThan(MiB);
    expect(rangedPays(rangesFor(five, () => true)!, MiB + 100)).toBe(false);
    expect(rangedPays(rangesFor(five, (p) => p === "f0")!, MiB + 100)).toBe(true);
  });
});

describe("fetchArchive with a selection", () => {
  const s3mock = mockClient(S3Client);
  const client = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
  const obj = { bucket: "b", key: "runs/r/results.zip" };
  afterEach(() => s3mock.reset());

  it("reports a failed read of the central directory as that failure, instead of crashing or hanging", async () => {
    s3mock.on(HeadObjectCommand).resolves({ ContentLength: 5000, ETag: '"v1"' });
    s3mock.on(GetObjectCommand).rejects(Object.assign(new Error("Access Denied"), { name: "AccessDenied" }));
    await expect(fetchArchive(client, obj, "/nonexistent/never-written.zip", { want: () => true })).rejects.toThrow("Access Denied");
  });

  it("fetches the whole archive when the object does not parse as a zip, so it is refused with a clear message there", async () => {
    s3mock.on(HeadObjectCommand).resolves({ ContentLength: 5000, ETag: '"v1"' });
    s3mock.on(GetObjectCommand).callsFake((input: { Range?: string; IfMatch?: string }) => {
      if (!input.Range) return { Body: Readable.from([Buffer.from("the whole object")]) };
      expect(input.IfMatch).toBe('"v1"');
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(input.Range)!;
      return { Body: Readable.from([Buffer.alloc(Number(to) - Number(from) + 1)]) };
    });
    const path = join(tempDir(), "results.zip");
    expect(await fetchArchive(client, obj, path, { want: () => true })).toBe(true);
    expect(await readFile(path, "utf8")).toBe("the whole object");
  });

  it("reads one entry of an object that is not a zip as one clear error", async () => {
    s3mock.on(HeadObjectCommand).resolves({ ContentLength: 5000, ETag: '"v1"' });
    s3mock.on(GetObjectCommand).callsFake((input: { Range: string }) => {
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(input.Range)!;
      return { Body: Readable.from([Buffer.alloc(Number(to) - Number(from) + 1)]) };
    });
    await expect(readRemoteEntry(client, obj, ".nbatch/manifest.json")).rejects.toThrow("s3://b/runs/r/results.zip is not a zip archive: it is corrupt.");
  });

  it("says when there are no results at all", async () => {
    s3mock.on(HeadObjectCommand).rejects(Object.assign(new Error("Not Found"), { name: "NotFound", $metadata: { httpStatusCode: 404 } }));
    expect(await fetchArchive(client, obj, "/nonexistent/never-written.zip", { want: () => true })).toBe(false);
  });
});

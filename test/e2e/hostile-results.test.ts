import { lstat, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { resultsArchive, type RawEntry, type ResultsOptions } from "../support/hostile-zip.js";
import { repoRoot } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const HOSTILE_AGENT = join(repoRoot, "test", "support", "hostile-agent.mjs");
const SYMLINK = 0o120777;
const exists = (path: string) => lstat(path).then(() => true, () => false);

/** Every path under dir (recursive, not following symlinks), sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.sort();
}

describeWithMoto("nbatch build: hostile results archives", () => {
  let w: World;
  let sentinel: string;
  let archives: string;
  beforeAll(async () => {
    w = await startWorld();
    // A sibling of the job's directory, where an escaping entry would land.
    sentinel = await w.makeDir("sentinel", { "canary.txt": "canary\n" });
    archives = await w.makeDir("archives", {});
  });
  afterAll(() => w?.stop());

  /** Runs a job whose agent uploads the archive made of entries; the job itself exits 0. */
  async function runWith(name: string, dir: string, entries: RawEntry[], o: { flags?: string[]; env?: Record<string, string>; results?: ResultsOptions } = {}) {
    const archive = join(archives, `${name}.zip`);
    await writeFile(archive, resultsArchive(entries, o.results));
    return w.nbatch(["build", "--aws-batch", "--agent-command", `node ${HOSTILE_AGENT} ${archive}`, ...(o.flags ?? []), dir, "--", "true"], {
      env: { ...w.env, ...o.env },
    });
  }

  it("refuses every unsafe entry by its path, writes the good ones, and never touches a file outside or a good local file", async () => {
    const dir = await w.makeDir("hostile", { "crc.txt": "good crc\n", "size.txt": "good size\n", "short.txt": "good short\n" });
    // A symlink the user made that leads out of the directory.
    await symlink(sentinel, join(dir, "ext"));
    const rootBefore = await readdir(dirname(dir));
    const bad: RawEntry[] = [
      { name: "../sentinel/escape.txt", data: "escaped\n" },
      { name: join(sentinel, "absolute.txt"), data: "absolute\n" },
      { name: "..\\sentinel\\backslash.txt", data: "backslash\n" },
      { name: "C:/drive.txt", data: "drive\n" },
      { name: "out-link", data: "../sentinel", mode: SYMLINK },
      { name: "out-link/through.txt", data: "through an archive link\n" },
      { name: "abs-link", data: "/etc", mode: SYMLINK },
      { name: "ext/through-local.txt", data: "through a local link\n" },
      { name: "dup.txt", data: "first\n" },
      { name: "dup.txt", data: "second\n" },
      { name: "crc.txt", data: "bad crc\n", crc: 0xdeadbeef },
      { name: "size.txt", data: "0123456789", size: 5 },
      { name: "short.txt", data: "abc", size: 100 },
      // Claims 1000 bytes; inflates to 2 MiB.
      { name: "bomb.bin", data: Buffer.alloc(2 * 1024 * 1024), size: 1000, deflate: true },
    ];
    const good: RawEntry[] = [
      { name: "good.txt", data: "good\n" },
      { name: "good/nested.txt", data: "nested\n".repeat(100), deflate: true },
    ];
    const r = await runWith("hostile", dir, [good[0]!, ...bad, good[1]!]);

    expect(r.stderr).toMatch(/Job SUCCEEDED .*\(exited 0\)/);
    expect(r.code).toBe(1);
    const refused = new Set([...r.stderr.matchAll(/refused (.+?): /g)].map((m) => m[1]));
    for (const path of [...new Set(bad.map((e) => e.name))]) expect.soft(refused, `refused ${path}`).toContain(path);
    expect(r.stderr).not.toContain("    at ");

    // Good entries are written; good local files stay as they were.
    expect(await readFile(join(dir, "good.txt"), "utf8")).toBe("good\n");
    expect(await readFile(join(dir, "good/nested.txt"), "utf8")).toBe("nested\n".repeat(100));
    expect(await readFile(join(dir, "crc.txt"), "utf8")).toBe("good crc\n");
    expect(await readFile(join(dir, "size.txt"), "utf8")).toBe("good size\n");
    expect(await readFile(join(dir, "short.txt"), "utf8")).toBe("good short\n");
    for (const path of ["out-link", "abs-link", "bomb.bin", "C:", "..\\sentinel\\backslash.txt"]) expect.soft(await exists(join(dir, path)), path).toBe(false);
    expect((await tree(dir)).filter((p) => p.includes(".nbatch-tmp-"))).toEqual([]);

    // Nothing outside the directory changed.
    expect(await tree(sentinel)).toEqual(["canary.txt"]);
    expect(await readFile(join(sentinel, "canary.txt"), "utf8")).toBe("canary\n");
    expect((await readdir(dirname(dir))).sort()).toEqual(rootBefore.sort());
  });

  it("refuses an archive that expands to more than max-results-size, writing nothing", async () => {
    const dir = await w.makeDir("too-big", {});
    const r = await runWith(
      "too-big",
      dir,
      [
        { name: "small.txt", data: "small\n" },
        { name: "big.bin", data: Buffer.alloc(2 * 1024 * 1024), deflate: true },
      ],
      { flags: ["--max-results-size", "1MiB"] },
    );
    expect(r.stderr).toMatch(/Job SUCCEEDED .*\(exited 0\)/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nbatch: error: .*more than the limit.*(1048576|1 ?MiB)/m);
    expect(r.stderr).not.toContain("    at ");
    expect(await tree(dir)).toEqual([]);

    // Under the limit (here set through the environment) the same archive is applied.
    const ok = await runWith("fits", dir, [{ name: "big.bin", data: Buffer.alloc(2 * 1024 * 1024), deflate: true }], { env: { NBATCH_CORE_MAX_RESULTS_SIZE: "3MiB" } });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readFile(join(dir, "big.bin"))).length).toBe(2 * 1024 * 1024);
  });
  it("refuses an archive of more entries than max-results-entries before reading them, writing nothing", async () => {
    const dir = await w.makeDir("many-entries", {});
    const entries = Array.from({ length: 30 }, (_, i) => ({ name: `e/${i}` }));
    const r = await runWith("many-entries", dir, entries, { flags: ["--max-results-entries", "20"] });
    expect(r.stderr).toMatch(/Job SUCCEEDED .*\(exited 0\)/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nbatch: error: s3:\/\/\S+\/results\.zip holds 31 entries, more than the limit of 20 \(max-results-entries\)/m);
    expect(await tree(dir)).toEqual([]);
    // Within the limit, here from the environment, the same archive is applied.
    const ok = await runWith("many-entries", dir, entries, { env: { NBATCH_CORE_MAX_RESULTS_ENTRIES: "31" } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await tree(join(dir, "e"))).toHaveLength(30);
  });

  it("refuses a results.json that is malformed or another run's, as one line, writing nothing", async () => {
    const cases: [string, ResultsOptions["edit"], RegExp][] = [
      ["not-json", () => "{ not json", /results\.json in s3:\/\/\S+ is malformed \(it is not JSON/],
      ["files-not-a-list", (r) => ({ ...r, files: "everything" }), /is malformed \(files is not a list\)/],
      ["bad-mode", (r) => ({ ...r, files: [{ path: "a.txt", type: "file", size: 2, mtimeMs: 0, mode: "rwx" }] }), /is malformed \(files\[0\]\.mode is not a mode\)/],
      ["exit-code", (r) => ({ ...r, exitCode: "0" }), /is malformed \(exitCode is not a whole number\)/],
      ["no-timings", (r) => ({ ...r, timings: undefined }), /is malformed \(timings is not an object\)/],
      ["other-run", (r) => ({ ...r, runId: "0190aaaa-0000-7000-8000-000000000000" }), /belongs to run "0190aaaa-0000-7000-8000-000000000000", not to this job's run [0-9a-f-]{36}/],
    ];
    const runs = await Promise.all(
      cases.map(async ([name, edit]) => {
        const dir = await w.makeDir(`results-${name}`, {});
        return { dir, r: await runWith(name, dir, [{ name: "a.txt", data: "a\n" }], { results: { edit } }) };
      }),
    );
    for (const [i, [name, , message]] of cases.entries()) {
      const { dir, r } = runs[i]!;
      expect.soft(r.code, name).toBe(1);
      expect.soft(r.stderr, name).toMatch(new RegExp(`^nbatch: error: .*${message.source}`, "m"));
      expect.soft(r.stderr, name).not.toMatch(/internal error| {4}at /);
      expect.soft(await tree(dir), name).toEqual([]);
    }
  });

  it("counts what it wrote, not what results.json claims", async () => {
    const dir = await w.makeDir("counted", {});
    const r = await runWith("counted", dir, [{ name: "a.txt", data: "a\n" }, { name: "b/c.txt", data: "c\n" }, { name: "d", data: "d" }], {
      // results.json claims two more files than the archive has: they are not counted.
      results: { edit: (res) => ({ ...res, files: [...(res.files as object[]), ...["e", "f"].map((path) => ({ path, type: "file", size: 9, mtimeMs: 0, mode: 0o644 }))] }) },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("Results: 3 files written (5 B)");
  });

  it("shows every path and reason that comes from the job with its control characters escaped", async () => {
    const dir = await w.makeDir("escapes", {});
    const title = "\x1b]0;pwned\x07";
    const r = await runWith("escapes", dir, [{ name: `../${title}`, data: "x" }, { name: "link", data: `/tmp/${title}`, mode: SYMLINK }], {
      results: {
        deleted: [`gone${title}`],
        edit: (res) => ({ ...res, skipped: [{ path: `left${title}`, reason: `because\x1b[2J` }], leftRunning: [{ pid: 1, command: `daemon${title}` }] }),
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("\x1b");
    expect(r.stderr).not.toContain("\x07");
    expect(r.stderr).toContain("refused ../\\x1b]0;pwned\\x07: path contains '..'");
    expect(r.stderr).toContain("refused link: symlink target /tmp/\\x1b]0;pwned\\x07 is outside the directory");
    expect(r.stderr).toContain("the job could not send back left\\x1b]0;pwned\\x07: because\\x1b[2J");
    expect(r.stderr).toContain("daemon\\x1b]0;pwned\\x07");
    expect(r.stderr).toContain("gone\\x1b]0;pwned\\x07");
  });
});

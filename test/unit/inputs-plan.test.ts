import { createHash } from "node:crypto";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gunzipSync, gzipSync } from "node:zlib";
import { decodeTree, TREE_GZIP } from "../../src/protocol-tree.js";
import { buildTree, MAX_PACKS, planInputs, type Location, type Placed } from "../../src/job/inputs-tree.js";
import { usableUntil } from "../../src/job/inventory.js";
import { soonestExpiry } from "../../src/setup/lifecycle.js";
import { FileHashes, hashFiles } from "../../src/tree/hashes.js";
import { scanDirectory, type Manifest, type ManifestEntry } from "../../src/tree/manifest.js";

const DAY = 24 * 3600 * 1000;
const file = (path: string, size = 10): ManifestEntry => ({ path, type: "file", size, mtimeMs: 1, mode: 0o644 });
const at = (pack: string, offset = 0): Location => ({ pack, offset, end: offset + 5, crc32: 7 });
const placedAt = (locations: Location[]): Placed => ({ location: (i) => locations[i]! });

describe("planning what goes up", () => {
  it("reuses bytes already in a pack, sends the rest once for each content, and names the tree by what it holds", async () => {
    const entries = [file("a"), file("b"), file("c"), file("d"), { ...file("empty"), size: 0 }];
    const sha: Record<string, string> = { a: "A", b: "B", c: "C", d: "C" };
    const plan = planInputs(entries, (e) => sha[e.path], new Map([["A", [at("p1")]]]));
    expect([...plan.reused.keys()]).toEqual(["a"]);
    expect(plan.fresh.map((e) => e.path)).toEqual(["b", "c"]);
    expect(plan.sameAs.get("d")).toBe(1);
    const placed = placedAt([at("new", 100), at("new", 200)]);
    const { gz, fingerprint } = await buildTree(entries, plan, placed);
    const tree = decodeTree(gz, "t");
    expect(tree.packs).toEqual(["new", "p1"]);
    expect(tree.entries.map((e) => e.at)).toEqual([[1, 0, 5], [0, 100, 105], [0, 200, 205], [0, 200, 205], undefined]);
    expect((await buildTree(entries, plan, placedAt([at("new", 100), at("new", 200)]))).fingerprint).toBe(fingerprint);
    expect((await buildTree(entries.map((e) => (e.path === "a" ? { ...e, mode: 0o600 } : e)), plan, placed)).fingerprint).not.toBe(fingerprint);
  });

  it("writes the same tree as the same bytes however many entries, names it by its text, and reads back only a tree it can trust", async () => {
    // Past one batch of text, so the tree is hashed and gzip'd in pieces.
    const entries = Array.from({ length: 3000 }, (_, i) => file(`dir/file-${String(i).padStart(5, "0")}.txt`));
    const plan = planInputs(entries, () => undefined, new Map());
    const placed = placedAt(entries.map((_, i) => at("p", i * 100)));
    const { gz, fingerprint } = await buildTree(entries, plan, placed);
    const json = gunzipSync(gz).toString();
    expect(gz).toEqual(gzipSync(json, TREE_GZIP));
    expect(fingerprint).toBe(createHash("sha256").update(json).digest("hex"));
    const tree = decodeTree(gz, "t");
    expect(JSON.stringify(tree)).toBe(json);
    expect(tree.entries[2999]).toEqual({ ...entries[2999], crc32: 7, at: [0, 299900, 299905] });
    expect(() => decodeTree(Buffer.from(json), "the inputs s3://b/t.json.gz")).toThrow(/^the inputs s3:\/\/b\/t\.json\.gz is malformed \(it is not a gzip'd tree/);
    expect(() => decodeTree(gzipSync(JSON.stringify({ ...tree, protocol: 3 })), "t")).toThrow(/uses job protocol 3, newer than this nbatch's 2/);
    const nowhere = { ...tree, entries: [{ ...tree.entries[0], at: undefined }] };
    expect(() => decodeTree(gzipSync(JSON.stringify(nowhere)), "t")).toThrow(/"dir\/file-00000\.txt" does not say where its bytes are/);
  });

  it("takes each content from the pack that holds most of the tree, so the tree spans few packs", () => {
    const entries = [file("a", 1000), file("b", 10)];
    const known = new Map([
      ["A", [at("big")]],
      ["B", [at("small"), at("big", 50)]],
    ]);
    const plan = planInputs(entries, (e) => e.path.toUpperCase(), known);
    expect(plan.reused.get("b")!.pack).toBe("big");
  });

  it(`keeps a tree within ${MAX_PACKS} packs, its own included, sending the files of the least used packs again`, () => {
    const entries = Array.from({ length: 20 }, (_, i) => file(`f${String(i).padStart(2, "0")}`, 100 + i));
    const known = new Map(entries.slice(0, 19).map((e, i) => [e.path, [at(`pack${String(i).padStart(2, "0")}`)]]));
    const plan = planInputs(entries, (e) => e.path, known);
    const packs = new Set([...plan.reused.values()].map((l) => l.pack));
    expect(packs.size + 1).toBe(MAX_PACKS);
    // The smallest contributions go up again: f00..f03, with f19, which was nowhere.
    expect(plan.fresh.map((e) => e.path)).toEqual(["f00", "f01", "f02", "f03", "f19"]);
    expect(plan.repacked).toBe(4);
  });
});

describe("how long a piece may be referenced", () => {
  const now = Date.parse("2026-06-01T00:00:00Z");

  it("is the rule's age less half of it, at most two days", () => {
    expect(usableUntil(now, { days: 30 })).toBe(now + 28 * DAY);
    expect(usableUntil(now, { days: 1 })).toBe(now + DAY / 2);
    expect(usableUntil(now, {})).toBe(Infinity);
    expect(usableUntil(now, { date: now + 10 * DAY })).toBe(now + 8 * DAY);
  });

  it("counts every enabled rule that may reach the inputs, the soonest deciding, but not those filtered by tag", () => {
    const rules = [
      { ID: "all", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 90 } },
      { ID: "big", Status: "Enabled", Filter: { And: { Prefix: "jobs/", ObjectSizeGreaterThan: 1000 } }, Expiration: { Days: 14 } },
      { ID: "tagged", Status: "Enabled", Filter: { Tag: { Key: "t", Value: "v" } }, Expiration: { Days: 1 } },
      { ID: "off", Status: "Disabled", Filter: { Prefix: "jobs/" }, Expiration: { Days: 1 } },
      { ID: "elsewhere", Status: "Enabled", Filter: { Prefix: "logs/" }, Expiration: { Days: 2 } },
      { ID: "deeper", Status: "Enabled", Filter: { Prefix: "jobs/inputs/packs/" }, Expiration: { Days: 7 } },
    ] as const;
    expect(soonestExpiry(rules as never, "jobs/inputs/")).toEqual({ days: 7 });
    expect(soonestExpiry(rules.slice(0, 3) as never, "jobs/inputs/")).toEqual({ days: 14 });
  });
});

describe("the hashes kept between runs", () => {
  it("knows a file by its stamp, forgets it once the file changes, and keeps no hash of a file changed just before it was read", async () => {
    const home = mkdtempSync(join(tmpdir(), "nbatch-hashes-"));
    const root = mkdtempSync(join(tmpdir(), "nbatch-hashed-"));
    writeFileSync(join(root, "old.txt"), "old");
    writeFileSync(join(root, "new.txt"), "new");
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(root, "old.txt"), past, past);
    const env = { HOME: home };
    const scan = () => scanDirectory(root, () => ({ excluded: false }), { stamps: true });
    const load = (m: Manifest) => FileHashes.load(env, root, m.entries, m.stamps!);
    const at = (m: Manifest, path: string) => m.entries.find((e) => e.path === path)!;
    const m = await scan();
    const hashes = await load(m);
    await hashFiles(root, m.entries, hashes);
    const sha = createHash("sha256").update("old").digest("hex");
    expect(hashes.get(at(m, "old.txt"))).toBe(sha);
    // As if old.txt had been read three seconds after its last change (its ctime is now: utimes moved it).
    hashes.set(at(m, "old.txt"), sha, Date.now() + 3000);
    await hashes.save(m.entries.map((e) => [e, m.stamps!.of(e)!] as const));

    const m2 = await scan();
    const again = await load(m2);
    expect(again.get(at(m2, "old.txt"))).toBe(sha);
    // Its ctime is newer than its reading less two seconds: the filesystem's clock may not have moved yet.
    expect(again.get(at(m2, "new.txt"))).toBeUndefined();
    // Kept again as it was: a hash kept before is kept while the file stays as it is.
    await again.save(m2.entries.map((e) => [e, m2.stamps!.of(e)!] as const));
    const kept = await scan();
    expect((await load(kept)).get(at(kept, "old.txt"))).toBe(sha);
    writeFileSync(join(root, "old.txt"), "changed");
    utimesSync(join(root, "old.txt"), past, past);
    const m3 = await scan();
    expect((await load(m3)).get(at(m3, "old.txt"))).toBeUndefined();
    // A file of hashes for another directory, or not one at all, is no hashes.
    expect((await FileHashes.load(env, `${root}-other`, m3.entries, m3.stamps!)).get(at(m3, "old.txt"))).toBeUndefined();
  });
});

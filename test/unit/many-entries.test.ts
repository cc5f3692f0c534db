import { describe, expect, it } from "vitest";
import { splitList } from "../../src/json-items.js";
import { EntryTable } from "../../src/tree/entry-table.js";
import { byPath } from "../../src/tree/paths.js";
import type { TreeEntry } from "../../src/protocol-tree.js";

const entries: TreeEntry[] = [
  { path: "a", type: "dir", size: 0, mtimeMs: 1795000000123, mode: 0o755 },
  { path: "a/f", type: "file", size: 12, mtimeMs: 1795000000124.5, mode: 0o644, crc32: 0xfedcba98, at: [1, 4096, 4200] },
  { path: "a/l", type: "symlink", size: 1, mtimeMs: -5, mode: 0o777, target: "f" },
  { path: "e", type: "file", size: 0, mtimeMs: 0, mode: 0o600 },
];

describe("byPath", () => {
  it("finds each entry by path, in path order or not, and nothing at a path it does not hold", () => {
    for (const list of [entries, [...entries].reverse(), [entries[1]!, entries[0]!, entries[3]!]]) {
      const found = byPath(list);
      for (const e of list) expect(found.get(e.path)).toBe(e);
      for (const missing of ["", "0", "a/", "a/g", "z", "b"]) expect(found.get(missing)).toBeUndefined();
      expect(found instanceof Map).toBe(list !== entries);
    }
    expect(byPath([]).get("a")).toBeUndefined();
  });
});

describe("EntryTable", () => {
  it("hands back each entry as it was added, and finds entries by path", () => {
    const table = EntryTable.of(entries);
    expect([...table]).toEqual(entries);
    expect(table.find("a/l")).toBe(2);
    expect(table.find("b")).toBe(-1);
    expect([table.packOf(1), table.offsetOf(1), table.packOf(0)]).toEqual([1, 4096, -1]);
  });

  it("grows past its first size, and finds and orders paths added out of order", () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ path: `p${String(99 - i).padStart(2, "0")}`, type: "file" as const, size: i, mtimeMs: i, mode: 0o644 }));
    const table = EntryTable.of([...many, { ...many[0]!, size: 7 }]);
    expect(table.length).toBe(101);
    expect(table.entry(100).size).toBe(7);
    expect(table.entry(table.find("p99")).size).toBe(7);
    expect(table.entry(table.find("p05")).size).toBe(94);
    expect(Array.from(table.order().slice(0, 3), (i) => table.path(i))).toEqual(["p00", "p01", "p02"]);
  });

  it("keeps three places of bytes for an entry, never spilling into the next", () => {
    // As a tree that passed its checks may say it: `at` is checked as a list of offsets, of any length.
    const table = EntryTable.of([{ ...entries[0]!, at: [1, 2, 3, 4, 5] as unknown as [number, number, number] }, entries[0]!]);
    expect([table.entry(0).at, table.entry(1).at]).toEqual([[1, 2, 3], undefined]);
  });
});

describe("splitList", () => {
  const split = (text: string) => {
    const s = splitList(Buffer.from(text), "entries");
    return s && { rest: s.rest, items: Array.from({ length: s.count }, (_, i) => s.item(i)) };
  };

  it("parses a list field's items one by one, and the rest of the object without them", () => {
    const value = { protocol: 2, packs: ["x", "y,]"], entries: [{ path: 'a "q" \\ ]}', at: [1, 2] }, [], 3, "s"], tail: { entries: [9] } };
    expect(split(JSON.stringify(value))).toEqual({ rest: { ...value, entries: [] }, items: value.entries });
    expect(split(JSON.stringify(value, null, 2))).toEqual({ rest: { ...value, entries: [] }, items: value.entries });
    expect(split(' { "entries" : [ ] } ')).toEqual({ rest: { entries: [] }, items: [] });
    expect(split('{"entr\\u0069es":[1]}')).toEqual({ rest: { entries: [] }, items: [1] });
  });

  it("leaves to JSON.parse a text it cannot split exactly", () => {
    for (const text of ['{"entries":[1],"entries":[2]}', '{"entries":5}', '{"other":[1]}', "[1]", '{"entries":[1]} x', '{"entries":[1]', '{"entries":[1],}']) {
      expect(split(text), text).toBeUndefined();
    }
    const bad = splitList(Buffer.from('{"entries":[1,,2]}'), "entries")!;
    expect(() => bad.item(1)).toThrow(SyntaxError);
  });
});

describe("readTree", () => {
  it("refuses a tree read entry by entry in the words of a whole check", async () => {
    const { readTree } = await import("../../src/protocol-tree.js");
    const { gzipSync } = await import("node:zlib");
    const tree = { protocol: 2, packs: ["p1"], entries };
    const read = (text: string) => () => readTree(gzipSync(text), "t", () => undefined);
    expect(read(JSON.stringify({ ...tree, entries: [...entries, { ...entries[0], mode: -1 }] }))).toThrow("t is malformed (entries[4].mode is not a mode)");
    expect(read(JSON.stringify({ ...tree, packs: [1], entries: [{}] }))).toThrow("t is malformed (packs[0] is not a pack id)");
    expect(read(JSON.stringify({ ...tree, entries: [{ ...entries[1], at: [0, 1, 2] }, { ...entries[1], at: [3, 1, 2] }, {}] }))).toThrow("entries[2].path is not a string");
    expect(read(JSON.stringify({ ...tree, entries: [{ ...entries[1], at: [0, 1, 2] }, { ...entries[1], at: [3, 1, 2] }] }))).toThrow('"a/f" does not say where its bytes are');
    let whole = "";
    try {
      JSON.parse('{"protocol":2,"packs":[],"entries":[{"path":"a"},{"path" "b"}]}');
    } catch (err) {
      whole = (err as Error).message;
    }
    expect(read('{"protocol":2,"packs":[],"entries":[{"path":"a"},{"path" "b"}]}')).toThrow(`t is malformed (it is not JSON (${whole}))`);
  });
});

describe("readResults", () => {
  it("takes each file and says what is wrong in the order a whole check does", async () => {
    const { readResults } = await import("../../src/protocol-read.js");
    const results = { protocol: 2, runId: "r", exitCode: 0, signal: null, deleted: [], files: entries.map(({ crc32: _c, at: _a, ...e }) => e), timings: { started: 1, finished: 2 } };
    const files: unknown[] = [];
    const read = (value: object, take = (e: unknown) => void files.push(e)) => () => readResults(Buffer.from(JSON.stringify(value)), "results.json", "r", undefined, take);
    expect(read(results)()).toEqual({ ...results, files: undefined });
    expect(files).toEqual(results.files);
    const wrongFile = { ...results, files: [results.files[0], { ...results.files[1], mode: "x" }] };
    expect(read({ ...wrongFile, timings: 5 })).toThrow("(files[1].mode is not a mode)");
    expect(read({ ...wrongFile, exitCode: "x" })).toThrow("(exitCode is not a whole number)");
    expect(read({ ...results, runId: "other" })).toThrow(/belongs to run "other", not to this job's run r/);
  });
});

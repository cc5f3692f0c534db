import type { TreeEntry } from "../protocol-tree.js";
import type { EntryType } from "./manifest.js";
import { comparePaths, searchPaths } from "./paths.js";

const TYPES: readonly EntryType[] = ["file", "dir", "symlink"];

/**
 * Many entries of a tree in little memory: each path one string, the
 * numbers in typed arrays that grow as entries are added, a link's target
 * beside. An object per entry costs 250 bytes of heap and more (50 MB for
 * 200,000 paths); here an entry costs its path and 30 to 60 bytes. Entries
 * are handed out as objects one at a time, for the caller to drop.
 */
export class EntryTable {
  length = 0;
  private paths: string[] = [];
  private types = new Uint8Array(16);
  private modes = new Uint16Array(16);
  private sizes = new Float64Array(16);
  private mtimes = new Float64Array(16);
  /** Only once an entry has them (a tree's files): crc32, then pack, offset and end; NaN where absent. */
  private crcs: Float64Array | undefined;
  private places: Float64Array | undefined;
  private readonly targets = new Map<number, string>();
  private ordered = true;
  private byPath: Map<string, number> | undefined;

  static of(entries: Iterable<TreeEntry>): EntryTable {
    const table = new EntryTable();
    for (const e of entries) table.add(e);
    return table;
  }

  add(e: TreeEntry): void {
    const i = this.length++;
    if (i === this.types.length) this.grow(2 * i);
    if (i > 0 && comparePaths(this.paths[i - 1]!, e.path) >= 0) this.ordered = false;
    this.paths.push(e.path);
    this.types[i] = TYPES.indexOf(e.type);
    this.modes[i] = e.mode;
    this.sizes[i] = e.size;
    this.mtimes[i] = e.mtimeMs;
    if (e.target !== undefined) this.targets.set(i, e.target);
    if (e.crc32 !== undefined || e.at !== undefined) {
      this.crcs ??= new Float64Array(this.types.length).fill(NaN);
      this.places ??= new Float64Array(3 * this.types.length).fill(NaN);
      this.crcs[i] = e.crc32 ?? NaN;
      // Three places, whatever a malformed tree gave: never a neighbour's.
      if (e.at) this.places.set([e.at[0] ?? NaN, e.at[1] ?? NaN, e.at[2] ?? NaN], 3 * i);
    }
    this.byPath = undefined;
  }

  path(i: number): string {
    return this.paths[i]!;
  }

  type(i: number): EntryType {
    return TYPES[this.types[i]!]!;
  }

  /** Where entry i's bytes are, as its `at` says (pack, offset); -1 when it has none. */
  packOf(i: number): number {
    const p = this.places?.[3 * i] ?? NaN;
    return Number.isNaN(p) ? -1 : p;
  }

  offsetOf(i: number): number {
    const o = this.places?.[3 * i + 1] ?? NaN;
    return Number.isNaN(o) ? -1 : o;
  }

  /** Entry i as an object, as it was added. */
  entry(i: number): TreeEntry {
    const e: TreeEntry = { path: this.paths[i]!, type: this.type(i), size: this.sizes[i]!, mtimeMs: this.mtimes[i]!, mode: this.modes[i]! };
    const target = this.targets.get(i);
    if (target !== undefined) e.target = target;
    const crc = this.crcs?.[i] ?? NaN;
    if (!Number.isNaN(crc)) e.crc32 = crc;
    const at = this.places?.subarray(3 * i, 3 * i + 3);
    if (at && !Number.isNaN(at[0]!)) e.at = [at[0]!, at[1]!, at[2]!];
    return e;
  }

  *[Symbol.iterator](): IterableIterator<TreeEntry> {
    for (let i = 0; i < this.length; i++) yield this.entry(i);
  }

  /** The index of the entry at path (of the last, as a Map of the entries keeps), or -1. */
  find(path: string): number {
    if (!this.ordered) {
      if (!this.byPath) {
        this.byPath = new Map();
        for (let i = 0; i < this.length; i++) this.byPath.set(this.paths[i]!, i);
      }
      return this.byPath.get(path) ?? -1;
    }
    return searchPaths(this.length, (i) => this.paths[i]!, path);
  }

  /** The entry at path, as `find` finds it. */
  get(path: string): TreeEntry | undefined {
    const i = this.find(path);
    return i < 0 ? undefined : this.entry(i);
  }

  /** The indices in path order (stable: entries at the same path keep the order they were added in). */
  order(): Uint32Array {
    const order = new Uint32Array(this.length).map((_, i) => i);
    return this.ordered ? order : order.sort((a, b) => comparePaths(this.paths[a]!, this.paths[b]!) || a - b);
  }

  private grow(n: number): void {
    this.types = wider(this.types, n);
    this.modes = wider(this.modes, n);
    this.sizes = wider(this.sizes, n);
    this.mtimes = wider(this.mtimes, n);
    if (this.crcs) this.crcs = wider(this.crcs, n, NaN);
    if (this.places) this.places = wider(this.places, 3 * n, NaN);
  }
}

function wider<A extends Float64Array | Uint16Array | Uint8Array>(a: A, size: number, fill = 0): A {
  const b = new (a.constructor as new (n: number) => A)(size);
  b.fill(fill);
  b.set(a);
  return b;
}

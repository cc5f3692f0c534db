/** Protocol 2's inputs (docs/protocol.md, "Incremental inputs"): trees, and the indexes of the packs they name. */
import { gunzipSync } from "node:zlib";
import { malformed, MANIFEST_ENTRY, parseChecked, type InputsManifest } from "./protocol.js";
import { parseByItem, type ItemChecks } from "./protocol-read.js";
import { is, listOf, objectOf, text, wholeNumber, type Check } from "./schema.js";
import type { ManifestEntry } from "./tree/manifest.js";

/**
 * Protocol 2's inputs, a tree: every entry of the directory, and for each
 * file of some bytes where those bytes are: `at` is [index in `packs`,
 * offset of the entry's local header, end of its data] in that pack, and
 * `crc32` what they must check to (docs/protocol.md).
 */
export interface InputsTree extends InputsManifest {
  packs: string[];
  entries: TreeEntry[];
}

export interface TreeEntry extends ManifestEntry {
  crc32?: number;
  at?: [number, number, number];
}

/** A pack's index: what each of its entries holds (sha256, size, crc32) and where it lies. */
export interface PackIndex {
  protocol: number;
  pack: string;
  entries: [sha256: string, size: number, crc32: number, offset: number, end: number][];
}

/** Pack ids name objects: letters, digits and dashes only. */
export const PACK_ID = /^[0-9A-Za-z-]{1,100}$/;

const offset = is((v) => Number.isSafeInteger(v) && (v as number) >= 0, "an offset");

const TREE_ENTRY: Check = both(
  MANIFEST_ENTRY,
  objectOf({}, { crc32: is((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff, "a CRC-32"), at: listOf(offset) }),
);

const TREE_HEAD = {
  protocol: wholeNumber,
  packs: listOf(is((v) => typeof v === "string" && PACK_ID.test(v), "a pack id")),
};
const TREE_CHECKS: ItemChecks = { whole: objectOf({ ...TREE_HEAD, entries: listOf(TREE_ENTRY) }), before: objectOf(TREE_HEAD), item: TREE_ENTRY };

const PACK_INDEX: Check = objectOf({ protocol: wholeNumber, pack: text, entries: listOf(listOf(is((v) => typeof v === "string" || Number.isSafeInteger(v), "a field"))) });

/**
 * A protocol 2 tree from its JSON, checked: each file of some bytes must say
 * where they are, in a pack the tree names, and what they check to.
 */
export function parseInputsTree(raw: Buffer, what: string): InputsTree {
  const entries: TreeEntry[] = [];
  return { ...readInputsTree(raw, what, (e) => void entries.push(e)), entries };
}

/**
 * The same, handing each entry to `take` as it is checked instead of
 * keeping them (json-items.ts): the tree without its entries is returned,
 * and a tree that is not right throws, perhaps after some entries were taken.
 */
export function readInputsTree(raw: Buffer, what: string, take: (e: TreeEntry) => void): InputsTree {
  let nowhere: TreeEntry | undefined;
  const tree = parseByItem<InputsTree>(raw, what, "entries", TREE_CHECKS, (item, rest) => {
    const e = item as TreeEntry;
    if (!nowhere && !placed(e, rest.packs)) nowhere = e;
    take(e);
  });
  if (nowhere) throw malformed(what, `${JSON.stringify(nowhere.path).slice(0, 200)} does not say where its bytes are`);
  return tree;
}

function placed(e: TreeEntry, packs: readonly string[]): boolean {
  if (e.type !== "file" || e.size === 0) return true;
  const [pack, start, end] = e.at ?? [];
  return !(e.crc32 === undefined || e.at?.length !== 3 || packs[pack!] === undefined || !(start! < end!));
}

/** A tree's object is its JSON gzip'd, always at level 6, so the same tree is the same bytes wherever it is written. */
export const TREE_GZIP = { level: 6 };

/** Larger than any tree of a directory nbatch can scan, small enough to refuse a bomb. */
const MAX_TREE_BYTES = 512 * 1024 * 1024;

/** A tree from its object, checked as parseInputsTree checks it. */
export function decodeTree(raw: Buffer, what: string): InputsTree {
  return parseInputsTree(gunzipTree(raw, what), what);
}

/** The same, each entry handed to `take` as readInputsTree does; the gunzipped text is dropped once read. */
export function readTree(raw: Buffer, what: string, take: (e: TreeEntry) => void): InputsTree {
  return readInputsTree(gunzipTree(raw, what), what, take);
}

/** Up to this size, a tree's text is inflated into one buffer (below). */
const ONE_BUFFER_BYTES = 64 * 1024 * 1024;

function gunzipTree(raw: Buffer, what: string): Buffer {
  // gzip's trailer says the text's size: in one buffer of that size, not in 16 KiB chunks joined into a copy.
  const declared = raw.length >= 18 ? raw.readUInt32LE(raw.length - 4) : 0;
  const chunkSize = Math.min(Math.max(declared + 1, 64 * 1024), ONE_BUFFER_BYTES);
  try {
    return gunzipSync(raw, { maxOutputLength: MAX_TREE_BYTES, chunkSize });
  } catch (err) {
    throw malformed(what, `it is not a gzip'd tree (${(err as Error).message})`);
  }
}

export function parsePackIndex(raw: Buffer, what: string): PackIndex {
  const index = parseChecked<PackIndex>(raw, what, PACK_INDEX);
  const wrong = index.entries.find((e) => e.length !== 5 || typeof e[0] !== "string" || e.slice(1).some((n) => typeof n !== "number"));
  if (wrong) throw malformed(what, "an entry is not [sha256, size, crc32, offset, end]");
  return index;
}

function both(a: Check, b: Check): Check {
  return (value, at) => a(value, at) ?? b(value, at);
}

/**
 * The content already in usable packs under the prefix, by SHA-256, from
 * each pack's index. Indexes never change once written, so each is fetched
 * once per machine and kept in the cache; a pack the listing no longer
 * shows has its copy removed.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getBytes, s3Url, type S3 } from "../aws/s3.js";
import { cacheDir, type Env } from "../config/file.js";
import type { BucketLocation } from "../config/settings.js";
import { eachLimited } from "../pool.js";
import { PACK_ID, parsePackIndex, type PackIndex } from "../protocol-tree.js";
import type { Location } from "./inputs-tree.js";
import type { Inventory } from "./inventory.js";
import { objectAt, packIndexObject, packObject } from "./layout.js";
import { replaceFile } from "../tree/temp-files.js";

const CONCURRENCY = 16;

/** The packs a tree may reference now: listed with their index, and far from expiry. */
export function usablePacks(loc: BucketLocation, inventory: Inventory): string[] {
  const packs = `${objectAt(loc, "inputs", "packs").key}/`;
  const ids: string[] = [];
  for (const key of inventory.modified.keys()) {
    const id = key.startsWith(packs) && key.endsWith(".zip") ? key.slice(packs.length, -".zip".length) : undefined;
    if (id && PACK_ID.test(id) && inventory.usable(key) && inventory.modified.has(packIndexObject(loc, id).key)) ids.push(id);
  }
  return ids.sort();
}

/** Where each of the wanted contents is, in the given packs. */
export async function findContent(s3: S3, loc: BucketLocation, env: Env, packs: readonly string[], wanted: ReadonlySet<string>, warn: (line: string) => void): Promise<Map<string, Location[]>> {
  const dir = join(cacheDir(env), "packs", createHash("sha256").update(s3Url(objectAt(loc, "inputs"))).digest("hex").slice(0, 32));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const found = new Map<string, Location[]>();
  await eachLimited(packs, CONCURRENCY, async (pack) => {
    const index = await loadIndex(s3, loc, dir, pack, warn);
    for (const [sha, , crc32, offset, end] of index?.entries ?? []) {
      if (!wanted.has(sha)) continue;
      const at = found.get(sha) ?? [];
      at.push({ pack, offset, end, crc32 });
      found.set(sha, at);
    }
  });
  await forgetOthers(dir, new Set(packs));
  return found;
}

/** The kept copy, unless it cannot be read; else the index from S3, then kept. */
async function loadIndex(s3: S3, loc: BucketLocation, dir: string, pack: string, warn: (line: string) => void): Promise<PackIndex | undefined> {
  const local = join(dir, `${pack}.idx.json`);
  const obj = packIndexObject(loc, pack);
  const parse = (raw: Buffer) => parsePackIndex(raw, `the index ${s3Url(obj)}`);
  const kept = await readFile(local).then(parse, () => undefined);
  if (kept) return kept;
  const raw = await getBytes(s3, obj);
  if (!raw) return undefined;
  let index: PackIndex;
  try {
    index = parse(raw);
    if (index.pack !== pack) throw new Error(`it describes pack ${JSON.stringify(index.pack).slice(0, 80)}`);
  } catch (err) {
    // Whoever wrote it, its pack cannot be trusted to hold what it says: its content goes up again.
    warn(`not reusing ${s3Url(packObject(loc, pack))}: its index cannot be read (${(err as Error).message})`);
    return undefined;
  }
  await replaceFile(local, (tmp) => writeFile(tmp, raw, { mode: 0o600 }));
  return index;
}

/** Copies of indexes of packs that are gone, or too old to use, are of no more use. */
async function forgetOthers(dir: string, keep: ReadonlySet<string>): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const id = name.endsWith(".idx.json") ? name.slice(0, -".idx.json".length) : undefined;
    if (id && !keep.has(id)) await rm(join(dir, name), { force: true });
  }
}

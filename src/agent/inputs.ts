/**
 * The agent's first step: the directory the inputs describe, in its working
 * directory. A protocol 2 tree is assembled from the packs it names; an
 * inputs archive of protocol 1 (from an older nbatch) is unpacked as it is.
 */
import { readFile } from "node:fs/promises";
import { UserError } from "../errors.js";
import { readZipEntry } from "../archive/entries.js";
import { brokeOff } from "../aws/s3.js";
import { checkProtocol, INPUTS_MANIFEST_ENTRY, parseInputsManifest } from "../protocol.js";
import { readTree } from "../protocol-tree.js";
import { assembleTree } from "../tree/assemble.js";
import { EntryTable } from "../tree/entry-table.js";
import { extractZip } from "../tree/extract.js";
import { scanDirectory } from "../tree/manifest.js";
import { shownPath } from "../ui/format.js";
import type { Store } from "./store.js";

/**
 * Makes the inputs at `url` in `cwd`, and returns what is on disk then. A
 * .zip is an inputs archive of protocol 1; anything else is a tree. Both
 * the tree and what is returned are tables (tree/entry-table.ts): for
 * 200,000 paths an array of objects holds 50 MB, each.
 */
export async function fetchInputs(store: Store, url: string, cwd: string, scratch: string): Promise<EntryTable> {
  if (!(await store.download(url, scratch))) throw new UserError(`inputs ${url} not found: they may have expired; run nbatch build again`);
  const what = `the inputs ${url}`;
  if (url.endsWith(".zip")) {
    const raw = await readZipEntry(scratch, INPUTS_MANIFEST_ENTRY);
    const manifest = raw ? parseInputsManifest(raw, what) : { protocol: 1, entries: [] };
    checkProtocol(manifest.protocol, what);
    const report = await extractZip({ archivePath: scratch, destRoot: cwd, meta: new Map(manifest.entries.map((e) => [e.path, e])) });
    if (report.refused.length) throw new UserError(`inputs archive ${url} has unsafe entries: ${report.refused.map((r) => shownPath(r.path)).join(", ")}`);
  } else {
    const entries = new EntryTable();
    const { packs } = readTree(await readFile(scratch), what, (e) => entries.add(e));
    await assembleTree({ packs, entries }, cwd, { label: what, pack: (id) => store.source(packUrl(url, id)), transient: brokeOff });
  }
  // What is on disk now, not what the manifest claims: the diff after the run must compare like with like.
  return EntryTable.of((await scanDirectory(cwd, () => ({ excluded: false }))).entries);
}

/** A tree at …/inputs/trees/<name>.json.gz names packs at …/inputs/packs/<id>.zip, in S3 or on disk alike. */
export function packUrl(treeUrl: string, id: string): string {
  const m = /^(.*\/)trees\/[^/]+\.json\.gz$/.exec(treeUrl);
  if (!m) throw new UserError(`${treeUrl} is not where nbatch keeps trees (…/inputs/trees/<name>.json.gz)`);
  return `${m[1]}packs/${id}.zip`;
}

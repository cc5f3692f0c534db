/**
 * --resume: an attempt after the first starts from the results the one
 * before it uploaded (on SIGTERM too: a spot reclaim gives the command two
 * minutes, and the agent uploads what it has made), laid over the inputs,
 * so make or Snakemake pick up where it stopped instead of starting over.
 * The results of this attempt are still everything new or changed since the
 * inputs, the earlier attempt's work included (docs/protocol.md).
 */
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { readZipEntry } from "../archive/entries.js";
import { checkProtocol, notSkipped, RESULTS_ENTRY, type Results } from "../protocol.js";
import { extractZip } from "../tree/extract.js";
import { isInside, realpathOfPrefix, unsafeEntryName } from "../tree/paths.js";
import type { Store } from "./store.js";

/** The entries restored, or undefined when the earlier attempt left no results. */
export async function resumeFromResults(store: Store, resultsUrl: string, cwd: string, zipPath: string): Promise<{ written: number; deleted: number } | undefined> {
  if (!(await store.download(resultsUrl, zipPath))) return undefined;
  const raw = await readZipEntry(zipPath, RESULTS_ENTRY);
  if (!raw) return undefined;
  const results = JSON.parse(raw.toString("utf8")) as Results;
  checkProtocol(results.protocol, "the earlier attempt's results");
  const report = await extractZip({ archivePath: zipPath, destRoot: cwd, select: notSkipped(results), meta: new Map(results.files.map((e) => [e.path, e])) });
  // What the earlier attempt deleted stays deleted, as it would have on a machine that kept going.
  let deleted = 0;
  for (const path of results.deleted ?? []) {
    const abs = resolve(cwd, path);
    if (unsafeEntryName(path) || !isInside(cwd, await realpathOfPrefix(abs))) continue;
    await rm(join(cwd, path), { recursive: true, force: true });
    deleted++;
  }
  return { written: report.written.length, deleted };
}

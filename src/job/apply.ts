import { UserError } from "../errors.js";
import { notSkipped, RESULTS_ENTRY, type Results } from "../protocol.js";
import { readResults as readResultsJson } from "../protocol-read.js";
import type { SettingValues } from "../config/table.js";
import type { Output } from "../ui/output.js";
import { formatBytes, plural, shownPath } from "../ui/format.js";
import { readEntry } from "../archive/entries.js";
import { openZip, type ZipDirectory } from "../archive/zip-reader.js";
import { extractDirectory, type ExtractAction, type ExtractReport } from "../tree/extract.js";
import type { Claims } from "../tree/beside.js";
import { EntryTable } from "../tree/entry-table.js";
import type { ManifestEntry } from "../tree/manifest.js";
import { byPath, type ByPath } from "../tree/paths.js";

/** How much of a results archive nbatch takes: it is untrusted input, made by the job. */
export interface ResultLimits {
  maxBytes: number;
  maxEntries: number;
}

export const resultLimits = (values: Pick<SettingValues, "maxResultsBytes" | "maxResultsEntries">): ResultLimits => ({
  maxBytes: values.maxResultsBytes,
  maxEntries: values.maxResultsEntries,
});

export interface ApplyOptions {
  archivePath: string;
  /** What to call the archive in messages: where it really is, such as its S3 URL. */
  source: string;
  dir: string;
  runId: string;
  /** The local directory as it was uploaded, to spot files edited while the job ran (a fan-out run indexes it once for all its tasks). */
  baseline: readonly ManifestEntry[] | ByPath<ManifestEntry>;
  select?: (relPath: string) => boolean;
  out: Output;
  limits: ResultLimits;
  signal?: AbortSignal;
  /** A fan-out task's results: its index (results.json must say it), the run's claims, and the tag its conflicts are saved with. */
  task?: { index: number; claims: Claims; conflictTag: string };
}

export interface Applied {
  /** results.json but its list of files, which may be long and is in the report. */
  results: Omit<Results, "files">;
  report: ExtractReport;
}

/** The apply stage: a results archive into the local directory, and what it did, told. */
export async function applyResults(o: ApplyOptions): Promise<Applied> {
  const directory = await openZip(o.archivePath, { label: o.source, maxEntries: o.limits.maxEntries });
  try {
    // results.json's files as a table: for 100,000 files, objects and a map of them held 20 MB more.
    const files = new EntryTable();
    const results = await resultsIn(directory, o.source, o.runId, o.task?.index, (e) => files.add(e));
    const dirs = new Set<string>();
    const unselected: string[] = [];
    for (let i = 0; i < files.length; i++) {
      const path = files.path(i);
      // The last word on a path counts, as for the entries' modes and times.
      if (files.type(i) === "dir") dirs.add(path);
      else {
        dirs.delete(path);
        if (o.select && !o.select(path)) unselected.push(path);
      }
    }
    const taken = notSkipped(results);
    const report = await extractDirectory(directory, {
      label: o.source,
      destRoot: o.dir,
      select: (path) => taken(path) && (!o.select || o.select(path)),
      meta: files,
      baseline: "get" in o.baseline ? o.baseline : byPath(o.baseline),
      conflictTag: o.task?.conflictTag ?? o.runId.slice(-8),
      claims: o.task?.claims,
      maxBytes: o.limits.maxBytes,
      signal: o.signal,
      onFile: (path, action) => {
        o.out.emit({ type: "download", path, action, ...(o.task ? { index: o.task.index } : {}) });
        if (!dirs.has(path)) o.out.detail(`  ${o.task ? `task ${o.task.index}: ` : ""}${FILE_ACTIONS[action]} ${shownPath(path)}`);
      },
    });
    for (const path of unselected) o.out.detail(`  not selected ${shownPath(path)}`);
    // A fan-out run tells its tasks' results its own way (job/fanout/results.ts).
    if (!o.task) reportApplied(o.out, results, report);
    return { results, report };
  } finally {
    directory.close();
  }
}

/** What -v says of each file of the results. */
const FILE_ACTIONS: Record<ExtractAction, string> = { written: "wrote", touched: "updated the time or mode of", identical: "already up to date", conflict: "kept the local edit of", refused: "refused" };

/** A command that succeeded but left results nbatch refused is not a success: on every runner. */
export function exitWithRefusals(code: number, refused: boolean): number {
  return refused && code === 0 ? 1 : code;
}

/** The agent's account of the run, inside the results archive, without applying it. */
export async function readResults(archivePath: string, source: string, runId: string, limits: ResultLimits): Promise<Omit<Results, "files">> {
  const directory = await openZip(archivePath, { label: source, maxEntries: limits.maxEntries });
  try {
    return await resultsIn(directory, source, runId, undefined, () => undefined);
  } finally {
    directory.close();
  }
}

async function resultsIn(directory: ZipDirectory, source: string, runId: string, index: number | undefined, take: (e: ManifestEntry) => void): Promise<Omit<Results, "files">> {
  const raw = await readEntry(directory, RESULTS_ENTRY, source);
  if (!raw) throw new UserError(`${source} has no ${RESULTS_ENTRY}: it was not written by the nbatch agent`);
  return readResultsJson(raw, `${RESULTS_ENTRY} in ${source}`, runId, index, take);
}

function reportApplied(io: Output, results: Omit<Results, "files">, report: ExtractReport): void {
  // What was done, from the extraction itself: results.json only claims. Directories are bookkeeping.
  const dirs = new Set(report.directories);
  const count = (paths: string[]) => paths.filter((p) => !dirs.has(p)).length;
  const parts = [`${plural(count(report.written), "file")} written (${formatBytes(report.bytes)})`];
  if (count(report.touched)) parts.push(`${count(report.touched)} given the job's time or mode only`);
  if (count(report.identical)) parts.push(`${count(report.identical)} already up to date`);
  io.info(`Results: ${parts.join(", ")}`);
  for (const c of report.conflicts) {
    const why = c.kind === "type" ? "is a file here and a directory in the job's results, or the other way round" : "was edited locally while the job ran";
    io.warn(`${shownPath(c.path)} ${why}: kept it, saved the job's version as ${shownPath(c.savedAs)}`);
  }
  // Reasons quote the archive (a link's target) or are the job's own words.
  for (const r of report.refused) io.warn(`refused ${shownPath(r.path)}: ${shownPath(r.reason)}`);
  for (const s of results.skipped ?? []) io.warn(`the job could not send back ${shownPath(s.path)}: ${shownPath(s.reason)}`);
  const left = results.leftRunning ?? [];
  if (left.length) {
    const shown = left.slice(0, 3).map((p) => shownPath(p.command.slice(0, 40))).join("; ");
    io.warn(`the command left ${plural(left.length, "process", "processes")} running when it exited (${shown}${left.length > 3 ? "; ..." : ""}): what they wrote after that did not come back`);
  }
  if (results.deleted.length) {
    const shown = results.deleted.slice(0, 5).map(shownPath).join(", ") + (results.deleted.length > 5 ? ", ..." : "");
    io.info(`The job deleted ${plural(results.deleted.length, "path")} (${shown}); local copies are kept`);
  }
}

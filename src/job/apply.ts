import { UserError } from "../errors.js";
import { checkProtocol, RESULTS_ENTRY, type Results } from "../protocol.js";
import type { Output } from "../ui/output.js";
import { formatBytes, plural, shownPath } from "../ui/format.js";
import { readZipEntry } from "../archive/entries.js";
import { extractZip, type ExtractReport } from "../tree/extract.js";
import type { ManifestEntry } from "../tree/manifest.js";

export interface ApplyOptions {
  archivePath: string;
  dir: string;
  runId: string;
  /** The local directory as it was uploaded, to spot files edited while the job ran. */
  baseline: readonly ManifestEntry[];
  select?: (relPath: string) => boolean;
  out: Output;
  maxBytes: number;
}

export interface Applied {
  results: Results;
  report: ExtractReport;
}

/** The apply stage: a results archive into the local directory, and what it did, told. */
export async function applyResults(o: ApplyOptions): Promise<Applied> {
  const results = await readResults(o.archivePath);
  const types = new Map(results.files.map((e) => [e.path, e.type]));
  const report = await extractZip({
    archivePath: o.archivePath,
    destRoot: o.dir,
    select: o.select,
    meta: new Map(results.files.map((e) => [e.path, e])),
    baseline: new Map(o.baseline.map((e) => [e.path, e])),
    conflictTag: o.runId.slice(-8),
    maxBytes: o.maxBytes,
    onFile: (path, action) => {
      o.out.emit({ type: "download", path, action });
      if (types.get(path) !== "dir") o.out.detail(`  ${FILE_ACTIONS[action]} ${shownPath(path)}`);
    },
  });
  for (const f of results.files) if (f.type !== "dir" && o.select && !o.select(f.path)) o.out.detail(`  not selected ${shownPath(f.path)}`);
  reportApplied(o.out, results, report);
  return { results, report };
}

/** What -v says of each file of the results. */
const FILE_ACTIONS = { written: "wrote", identical: "already up to date", conflict: "kept the local edit of", refused: "refused" } as const;

/** A command that succeeded but left results nbatch refused is not a success: on every runner. */
export function exitWithRefusals(code: number, refused: boolean): number {
  return refused && code === 0 ? 1 : code;
}

/** The agent's account of the run, inside the results archive. */
export async function readResults(archivePath: string): Promise<Results> {
  const raw = await readZipEntry(archivePath, RESULTS_ENTRY);
  if (!raw) throw new UserError(`the results archive has no ${RESULTS_ENTRY}: it was not written by the nbatch agent`);
  const results = JSON.parse(raw.toString("utf8")) as Results;
  checkProtocol(results.protocol, "the results archive");
  return results;
}

function reportApplied(io: Output, results: Results, report: ExtractReport): void {
  // Directory entries are bookkeeping; people count files and links.
  const files = new Set(results.files.filter((f) => f.type !== "dir").map((f) => f.path));
  const count = (paths: string[]) => paths.filter((p) => files.has(p)).length;
  const parts = [`${plural(count(report.written), "file")} written (${formatBytes(report.bytes)})`];
  if (count(report.identical)) parts.push(`${count(report.identical)} already up to date`);
  io.info(`Results: ${parts.join(", ")}`);
  for (const c of report.conflicts) {
    io.warn(`${shownPath(c.path)} was edited locally while the job ran: kept it, saved the job's version as ${shownPath(c.savedAs)}`);
  }
  for (const r of report.refused) io.warn(`refused ${shownPath(r.path)}: ${r.reason}`);
  for (const s of results.skipped ?? []) io.warn(`the job could not send back ${shownPath(s.path)}: ${s.reason}`);
  const left = results.leftRunning ?? [];
  if (left.length) {
    const shown = left.slice(0, 3).map((p) => shownPath(p.command.slice(0, 40))).join("; ");
    io.warn(`the command left ${plural(left.length, "process")} running when it exited (${shown}${left.length > 3 ? "; ..." : ""}): what they wrote after that did not come back`);
  }
  if (results.deleted.length) {
    const shown = results.deleted.slice(0, 5).map(shownPath).join(", ") + (results.deleted.length > 5 ? ", ..." : "");
    io.info(`The job deleted ${plural(results.deleted.length, "path")} (${shown}); local copies are kept`);
  }
}

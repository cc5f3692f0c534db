/**
 * Each task's results come home as soon as the task ends, while the others
 * still run: downloaded (a few at a time) into temporary files in the
 * directory, applied one task after another under the run's claims,
 * removed. No archive is held in memory, only a small record of each path
 * the run wrote (claims.ts). A task whose results cannot come home does not stop
 * the others: the end of the run says which, and where they are.
 */
import { realpath, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { s3Url, type S3Object } from "../../aws/s3.js";
import { InterruptedError, UserError } from "../../errors.js";
import type { Task } from "../../protocol.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { byPath, type ByPath } from "../../tree/paths.js";
import { sweepStaleTemps, tempBeside } from "../../tree/temp-files.js";
import { shownPath } from "../../ui/format.js";
import { applyResults, resultLimits } from "../apply.js";
import type { BatchContext } from "../context.js";
import { checkRoom, fetchArchive } from "../fetch.js";
import { RunClaims } from "./claims.js";
import { taskName } from "./tasks.js";

export interface ResultsPlan {
  runId: string;
  dir: string;
  baseline: readonly ManifestEntry[];
  select?: (relPath: string) => boolean;
  /** Where a task's results are: in S3, or (the local runner) a file already. */
  resultsOf(index: number): S3Object | { file: string };
}

/** What bringing results home needs: the Output, the settings, and S3 when results are there. */
export type ResultsContext = Pick<BatchContext, "out"> & { values: BatchContext["settings"]["values"]; s3?: BatchContext["clients"]["s3"] };

/** What the run's results came to, for the closing lines. */
export interface ResultsTally {
  applied: number;
  written: number;
  bytes: number;
  identical: number;
  conflicts: number;
  refused: number;
  /** Tasks that left no results archive. */
  missing: number[];
  /** Tasks whose results could not be brought home, and why. */
  failed: { index: number; why: string }[];
  /** Each applied task's exit code, as its results.json says. */
  exitCodes: Map<number, number | null>;
}

/** Archives downloaded ahead of the task being applied: each a file in the directory, not memory. */
const FETCHES = 8;

export class ResultsHome {
  readonly tally: ResultsTally = { applied: 0, written: 0, bytes: 0, identical: 0, conflicts: 0, refused: 0, missing: [], failed: [], exitCodes: new Map() };
  private readonly claims: RunClaims;
  /** The baseline indexed once for every task, not once a task. */
  private readonly baseline: ByPath<ManifestEntry>;
  private chain: Promise<void>;
  private readonly abort = new AbortController();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly ctx: ResultsContext,
    private readonly plan: ResultsPlan,
  ) {
    this.claims = new RunClaims(plan.runId.slice(-8));
    this.baseline = byPath(plan.baseline);
    // Archives of downloads killed earlier would count against the free space.
    this.chain = realpath(plan.dir).then((root) => sweepStaleTemps(root, [""]));
  }

  /** Brings this task's results home after those of the tasks before it; the download starts as soon as a slot is free. */
  add(task: Task): void {
    const where = this.plan.resultsOf(task.index);
    const archivePath = tempBeside(join(this.plan.dir, "results.zip"));
    const slot = this.slot();
    const fetched = slot.then(() => this.fetch(where, archivePath));
    // Awaited in turn below; until then a failed download must not count as unhandled.
    fetched.catch(() => undefined);
    this.chain = this.chain.then(async () => {
      try {
        if (!this.abort.signal.aborted) await this.bring(task, where, fetched);
      } finally {
        await fetched.catch(() => undefined);
        await rm(archivePath, { force: true });
        this.release();
      }
    });
  }

  /** A slot is held from the download until the archive is applied and removed, so at most FETCHES archives are on disk. */
  private slot(): Promise<void> {
    if (this.active < FETCHES) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Resolves once every task added so far is home; throws only when interrupted. */
  async done(): Promise<void> {
    await this.chain;
  }

  /** Stops after the task being brought home (detach, a second Ctrl-C): the rest stay in S3. */
  stop(reason: string): void {
    this.abort.abort(reason);
  }

  private async bring(task: Task, where: S3Object | { file: string }, fetched: Promise<string | undefined>): Promise<void> {
    const { out, values } = this.ctx;
    const label = "file" in where ? where.file : s3Url(where);
    try {
      const found = await fetched;
      if (!found) {
        this.tally.missing.push(task.index);
        return;
      }
      const { results, report } = await applyResults({
        archivePath: found,
        source: label,
        dir: this.plan.dir,
        runId: this.plan.runId,
        baseline: this.baseline,
        select: this.plan.select,
        out,
        limits: resultLimits(values),
        signal: this.abort.signal,
        task: { index: task.index, claims: this.claims.forTask(task.index), conflictTag: `${this.plan.runId.slice(-8)}-${task.index}` },
      });
      this.count(task, report, results.exitCode);
    } catch (err) {
      if (this.abort.signal.aborted || err instanceof InterruptedError) return;
      const why = err instanceof UserError ? err.message : ((err as Error)?.message ?? String(err));
      this.tally.failed.push({ index: task.index, why });
      out.warn(`the results of ${taskName(task)} could not be brought home (${why}); they are safe at ${label}`);
      out.emit({ type: "task-result", index: task.index, ...(task.item !== undefined ? { item: task.item } : {}), exitCode: null, written: 0, identical: 0, conflicts: 0, refused: 0, error: why });
    }
  }

  /** The archive to apply: fetched from S3 into the temporary file, or the local runner's own; undefined when there is none. */
  private async fetch(where: S3Object | { file: string }, archivePath: string): Promise<string | undefined> {
    if ("file" in where) return (await stat(where.file).catch(() => undefined)) ? where.file : undefined;
    const found = await fetchArchive(this.ctx.s3!, where, archivePath, {
      want: this.plan.select,
      signal: this.abort.signal,
      room: (bytes) => checkRoom(this.plan.dir, bytes),
      maxEntries: this.ctx.values.maxResultsEntries,
    });
    return found ? archivePath : undefined;
  }

  private count(task: Task, report: Awaited<ReturnType<typeof applyResults>>["report"], exitCode: number | null): void {
    const { out } = this.ctx;
    const t = this.tally;
    const files = (paths: string[]) => paths.filter((p) => !report.directories.includes(p)).length;
    t.applied++;
    t.written += files(report.written);
    t.bytes += report.bytes;
    t.identical += files(report.identical);
    t.conflicts += report.conflicts.length;
    t.refused += report.refused.length;
    t.exitCodes.set(task.index, exitCode);
    for (const c of report.conflicts) {
      out.warn(
        c.kept === undefined
          ? `${shownPath(c.path)} ${c.kind === "type" ? "is a file here and a directory in the task's results, or the other way round" : "was edited locally while the run went on"}: kept it, saved ${taskName(task)}'s version as ${shownPath(c.savedAs)}`
          : `${shownPath(c.path)}: tasks ${Math.min(c.kept, task.index)} and ${Math.max(c.kept, task.index)} wrote different contents; task ${c.kept}'s stays (the lower index keeps a path), the other is saved as ${shownPath(c.savedAs)}`,
      );
    }
    for (const r of report.refused) out.warn(`refused ${shownPath(r.path)} from ${taskName(task)}: ${shownPath(r.reason)}`);
    out.detail(`Results of ${taskName(task)}: ${files(report.written)} written, ${files(report.identical)} already up to date`);
    out.emit({ type: "task-result", index: task.index, ...(task.item !== undefined ? { item: task.item } : {}), exitCode, written: files(report.written), identical: files(report.identical), conflicts: report.conflicts.length, refused: report.refused.length });
  }
}

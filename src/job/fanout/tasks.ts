/**
 * The tasks of a fan-out run: --array N makes N, --each one per matching
 * path of the directory, in sorted order. The list goes up as tasks.json
 * (docs/protocol.md); each child finds its own task in it.
 */
import { UsageError, UserError } from "../../errors.js";
import type { Task } from "../../protocol.js";
import type { ManifestEntry } from "../../tree/manifest.js";
import { comparePaths } from "../../tree/paths.js";
import { createMatcher } from "../../tree/patterns.js";
import { plural, shownPath } from "../../ui/format.js";

/** "you specify an array size (between 2 and 10,000)" (AWS Batch user guide, "Array jobs"); lanes share that limit. */
export const MAX_TASKS = 10_000;

export interface FanoutSpec {
  /** --array N */
  array?: number;
  /** --each patterns */
  each?: string[];
  /** --array-parallel K: at most this many tasks at once. */
  parallel?: number;
  /** --follow-child: the tasks whose log is shown live. */
  follow: number[];
}

export function planTasks(spec: FanoutSpec, entries: readonly ManifestEntry[], dir: string): Task[] {
  if (spec.array !== undefined) return Array.from({ length: spec.array }, (_, index) => ({ index }));
  const matches = createMatcher(spec.each!);
  const items = entries.filter((e) => matches(e.path, e.type === "dir")).map((e) => e.path).sort(comparePaths);
  const patterns = spec.each!.map((p) => `'${p}'`).join(" ");
  if (!items.length) throw new UserError(`--each ${patterns} matched no path of ${dir} that is uploaded: check the pattern (the --download syntax, relative to the directory) and --exclude-from-upload`);
  if (items.length > MAX_TASKS) throw new UsageError(`--each ${patterns} matched ${items.length} paths; a run has at most ${MAX_TASKS} tasks: narrow the pattern`);
  return items.map((item, index) => ({ index, item }));
}

/** The followed tasks must be tasks of the run. */
export function checkFollowed(follow: readonly number[], tasks: readonly Task[]): void {
  const known = new Set(tasks.map((t) => t.index));
  const unknown = follow.filter((i) => !known.has(i));
  if (unknown.length) throw new UsageError(`--follow-child ${unknown.join(", ")}: the run has no such task (it has ${plural(tasks.length, "task")}${tasks.length ? `, ${tasks[0]!.index} to ${tasks.at(-1)!.index}` : ""})`);
}

/** "task 3" or "task 3 (samples/c.fq.gz)", as people read it. */
export function taskName(task: Task): string {
  return `task ${task.index}${task.item !== undefined ? ` (${shownPath(task.item)})` : ""}`;
}

/**
 * Reading the protocol's long JSON objects a list item at a time
 * (json-items.ts): a tree's entries, results.json's files.
 */
import { UserError } from "./errors.js";
import { splitList } from "./json-items.js";
import { checkProtocolOf, malformed, MANIFEST_ENTRY, parseChecked, type Results } from "./protocol.js";
import { finiteNumber, listOf, objectOf, orNull, text, wholeNumber, type Check } from "./schema.js";
import type { ManifestEntry } from "./tree/manifest.js";

export interface ItemChecks {
  /** The whole object's check. */
  whole: Check;
  /** What `whole` checks before it comes to the list, and each of the list's items. */
  before: Check;
  item: Check;
}

/**
 * A JSON object parsed and checked as parseChecked (protocol.ts) would, but
 * for its one long list, `field`, whose items are handed
 * to `take` one at a time instead of all held at once (json-items.ts).
 * Returns the object with that list empty. What is wrong is told as a whole
 * parse and check would tell it: text that is not JSON first, then a newer
 * protocol, then the first field out of shape.
 */
export function parseByItem<T>(raw: Buffer, what: string, field: string, checks: ItemChecks, take: (item: unknown, rest: T) => void): T {
  const split = splitList(raw, field);
  if (!split) {
    const value = parseChecked<Record<string, unknown[]>>(raw, what, checks.whole);
    const rest = { ...value, [field]: [] } as T;
    for (const item of value[field]!) take(item, rest);
    return rest;
  }
  const item = (i: number): unknown => {
    try {
      return split.item(i);
    } catch {
      parseChecked(raw, what, checks.whole);
      throw new Error(`${what}: item ${i} was cut out of its JSON wrongly`);
    }
  };
  const judge = (wrong: () => string | undefined) => {
    try {
      const why = wrong();
      if (why) throw malformed(what, why);
    } catch (err) {
      for (let i = 0; i < split.count; i++) item(i);
      throw err;
    }
  };
  const rest = split.rest as T;
  judge(() => (checkProtocolOf(rest, what), checks.before(rest, "")));
  for (let i = 0; i < split.count; i++) {
    const value = item(i);
    judge(() => checks.item(value, `${field}[${i}]`));
    take(value, rest);
  }
  judge(() => checks.whole(rest, ""));
  return rest;
}

const RESULTS_HEAD = {
  protocol: wholeNumber,
  runId: text,
  exitCode: orNull(wholeNumber),
  signal: orNull(text),
  deleted: listOf(text),
};

const RESULTS: Check = objectOf(
  {
    ...RESULTS_HEAD,
    files: listOf(MANIFEST_ENTRY),
    timings: objectOf({ started: finiteNumber, finished: finiteNumber }, { commandStarted: finiteNumber, commandFinished: finiteNumber }),
  },
  {
    index: wholeNumber,
    error: text,
    skipped: listOf(objectOf({ path: text, reason: text })),
    leftRunning: listOf(objectOf({ pid: wholeNumber, command: text })),
  },
);

const RESULTS_CHECKS: ItemChecks = { whole: RESULTS, before: objectOf(RESULTS_HEAD), item: MANIFEST_ENTRY };

/**
 * results.json from a results archive, which the job wrote and so is
 * untrusted: its shape is checked, and it must be the run's own, not an
 * archive from another run put in its place. Its files are handed to `take`
 * one by one as they are checked, not kept: a job may send back 100,000.
 */
export function readResults(raw: Buffer, what: string, runId: string, index: number | undefined, take: (e: ManifestEntry) => void): Omit<Results, "files"> {
  const { files: _none, ...results } = parseByItem<Results>(raw, what, "files", RESULTS_CHECKS, (e) => take(e as ManifestEntry));
  if (results.runId !== runId) {
    throw new UserError(`${what} belongs to run ${JSON.stringify(results.runId).slice(0, 80)}, not to this job's run ${runId}: it was replaced or copied there, so nothing was applied`);
  }
  if (index !== undefined && results.index !== index) {
    throw new UserError(`${what} belongs to task ${results.index ?? "(none)"}, not to task ${index}: it was replaced or copied there, so nothing was applied`);
  }
  return results;
}


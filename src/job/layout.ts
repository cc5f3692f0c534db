import type { BucketLocation } from "../config/settings.js";
import type { S3Object } from "../aws/s3.js";

/** Where a run's objects live under the configured bucket and prefix. */
export function objectAt(loc: BucketLocation, ...parts: string[]): S3Object {
  return { bucket: loc.bucket, key: [loc.prefix, ...parts].filter(Boolean).join("/") };
}

export const inputsObject = (loc: BucketLocation, fingerprint: string) => objectAt(loc, "inputs", `${fingerprint}.zip`);
export const resultsObject = (loc: BucketLocation, runId: string) => objectAt(loc, "runs", runId, "results.zip");
/** Fan-out: the run's task list, and each task's results, {index} standing for the task (docs/protocol.md). */
export const tasksObject = (loc: BucketLocation, runId: string) => objectAt(loc, "runs", runId, "tasks.json");
export const taskResultsObject = (loc: BucketLocation, runId: string, index: number | string) => objectAt(loc, "runs", runId, "tasks", String(index), "results.zip");
export const taskLogObject = (loc: BucketLocation, runId: string, index: number | string) => objectAt(loc, "runs", runId, "tasks", String(index), "log.gz");
export const envObject = (loc: BucketLocation, runId: string) => objectAt(loc, "runs", runId, "env.json");
export const logObject = (loc: BucketLocation, runId: string) => objectAt(loc, "runs", runId, "log.gz");
/** Protocol 2's inputs: content packs, their indexes, and trees (docs/protocol.md). */
export const packObject = (loc: BucketLocation, id: string) => objectAt(loc, "inputs", "packs", `${id}.zip`);
export const packIndexObject = (loc: BucketLocation, id: string) => objectAt(loc, "inputs", "packs", `${id}.idx.json`);
export const treeObject = (loc: BucketLocation, fingerprint: string) => objectAt(loc, "inputs", "trees", `${fingerprint}.json.gz`);

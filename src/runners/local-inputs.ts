import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newPackId, packFresh, type Inputs } from "../job/pack.js";
import { buildTree, planInputs } from "../job/inputs-tree.js";

/**
 * The inputs as the job reads them from S3, in a directory standing in for
 * the prefix's inputs/: one pack of every file, and the tree. Returns the
 * tree's path relative to the run's temporary directory.
 */
export async function writeInputs(inputs: Inputs, dir: string, runId: string): Promise<string> {
  await mkdir(join(dir, "packs"), { recursive: true });
  await mkdir(join(dir, "trees"));
  const plan = planInputs(inputs.manifest.entries, () => undefined, new Map());
  const pack = packFresh(inputs, plan, newPackId(runId));
  const file = await open(join(dir, "packs", `${pack.files.id}.zip`), "w");
  try {
    // Each chunk is lent until the next is asked for: written before then.
    for await (const chunk of pack.chunks) await file.write(chunk);
  } finally {
    await file.close();
  }
  const tree = await buildTree(inputs.manifest.entries, plan, pack.files);
  await writeFile(join(dir, "trees", `${tree.fingerprint}.json.gz`), tree.gz);
  return `inputs/trees/${tree.fingerprint}.json.gz`;
}

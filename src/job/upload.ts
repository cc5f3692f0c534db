/**
 * The upload stage: only the files whose bytes are not yet in a usable pack
 * under the prefix go up, in one pack streamed into S3 while it is packed,
 * then its index, then the tree that says where every file's bytes are.
 */
import { deleteObject, putIfAbsent, s3Url, uploadStream, type S3Object } from "../aws/s3.js";
import type { BucketLocation } from "../config/settings.js";
import { InterruptedError } from "../errors.js";
import { hashFiles } from "../tree/hashes.js";
import { formatBytes } from "../ui/format.js";
import { startProgress } from "../ui/progress.js";
import { findContent, usablePacks } from "./catalog.js";
import type { BatchContext } from "./context.js";
import { buildTree, MAX_PACKS, planInputs, tallies, type BuiltTree, type InputsPlan, type Tally } from "./inputs-tree.js";
import type { Inventory } from "./inventory.js";
import { packIndexObject, packObject, treeObject } from "./layout.js";
import { abortLeftUploads, noteUpload } from "./pending-uploads.js";
import { knownSha, newPackId, packFresh, stampedFiles, type Inputs, type PackedFiles } from "./pack.js";

export interface Upload {
  plan: InputsPlan;
  reused: Tally;
  fresh: Tally;
  /** The tree, when it is known before anything goes up (no file needs to). */
  tree?: BuiltTree;
  /** The tree's object exists and may be referenced: nothing at all goes up. */
  unchanged: boolean;
}

/** "3 files, 41 kB" */
export const tallied = (t: Tally) => `${t.files.toLocaleString("en-US")} file${t.files === 1 ? "" : "s"}, ${formatBytes(t.bytes)}`;

/**
 * What goes up. Files whose hashes are not known are read and hashed first
 * when there are packs they may be found in; otherwise they go up, and are
 * hashed as they are packed.
 */
export async function planUpload(ctx: BatchContext, loc: BucketLocation, inputs: Inputs, inventory: Inventory): Promise<Upload> {
  const { entries } = inputs.manifest;
  const files = entries.filter((e) => e.type === "file" && e.size > 0);
  const packs = usablePacks(loc, inventory);
  if (packs.length) {
    const unknown = files.filter((e) => !knownSha(inputs, e));
    if (unknown.length) {
      const bytes = unknown.reduce((n, e) => n + e.size, 0);
      ctx.out.detail(`Hashing ${tallied({ files: unknown.length, bytes })} to find those already in S3`);
      const progress = startProgress(ctx.out, ctx.clock, "Hashing", bytes);
      let read = 0;
      await hashFiles(inputs.dir, unknown, inputs.hashes, (n) => progress.update((read += n))).finally(() => progress.finish());
    }
  }
  const wanted = new Set(files.map((e) => knownSha(inputs, e)).filter((s): s is string => s !== undefined));
  const found = packs.length ? await findContent(ctx.clients.s3, loc, ctx.env, packs, wanted, (line) => ctx.out.warn(line)) : new Map();
  const plan = planInputs(entries, (e) => knownSha(inputs, e), found);
  const tree = plan.fresh.length ? undefined : await buildTree(entries, plan);
  return { plan, ...tallies(entries, plan), tree, unchanged: !!tree && inventory.usable(treeObject(loc, tree.fingerprint).key) };
}

/** Uploads what the plan says goes up, and returns the tree's object: NBATCH_INPUTS_URL. */
export async function uploadInputs(ctx: BatchContext, loc: BucketLocation, inputs: Inputs, upload: Upload, runId: string, signal: AbortSignal): Promise<S3Object> {
  const { out, clock } = ctx;
  const started = clock.now();
  await abortLeftUploads(ctx, loc.bucket);
  const both = `uploaded ${tallied(upload.fresh)}; reused ${tallied(upload.reused)}`;
  if (upload.unchanged) {
    const obj = treeObject(loc, upload.tree!.fingerprint);
    if (inputs.hashes.added) await keepHashes(ctx, inputs);
    out.info(`Inputs unchanged (${tallied(upload.reused)}): already at ${s3Url(obj)}`);
    return obj;
  }
  if (upload.plan.repacked) out.info(`${upload.plan.repacked.toLocaleString("en-US")} files already in S3 go up again, so the inputs stay within ${MAX_PACKS} packs`);
  const packed = upload.tree ? undefined : await uploadPack(ctx, loc, inputs, upload, runId, signal);
  const tree = upload.tree ?? (await buildTree(inputs.manifest.entries, upload.plan, packed));
  const obj = treeObject(loc, tree.fingerprint);
  if (!(await putIfAbsent(ctx.clients.s3, obj, tree.gz, "application/gzip"))) out.detail(`${s3Url(obj)} was already written by another run`);
  await keepHashes(ctx, inputs);
  out.info(`Inputs at ${s3Url(obj)} after ${((clock.now() - started) / 1000).toFixed(1)} s: ${both}`);
  return obj;
}

/** The hashes read in this run, for the next one; losing them costs only a re-read. */
async function keepHashes(ctx: BatchContext, inputs: Inputs): Promise<void> {
  await inputs.hashes.save(stampedFiles(inputs)).catch((err: unknown) => ctx.out.detail(`could not keep the files' hashes: ${(err as Error).message}`));
}

async function uploadPack(ctx: BatchContext, loc: BucketLocation, inputs: Inputs, upload: Upload, runId: string, signal: AbortSignal): Promise<PackedFiles> {
  const { out, clients, clock } = ctx;
  const id = newPackId(runId);
  const obj = packObject(loc, id);
  out.info(`Uploading ${tallied(upload.fresh)} of ${inputs.dir} to ${s3Url(obj)}; reusing ${tallied(upload.reused)} already in S3`);
  let read = 0;
  const progress = startProgress(out, clock, "Uploading", upload.fresh.bytes, `reusing ${tallied(upload.reused)}`);
  const pack = packFresh(inputs, upload.plan, id, (n) => progress.update((read += n)));
  try {
    await noteUpload(ctx, obj, () => uploadStream(clients.s3, obj, pack.chunks, { signal, estimatedBytes: upload.fresh.bytes, onProgress: pack.uploaded }));
  } catch (err) {
    if (signal.aborted) throw new InterruptedError("Interrupted while uploading; the partial upload was aborted and nothing was submitted");
    throw err;
  } finally {
    progress.finish();
  }
  try {
    // Until its index exists no run can reference the pack; once it does, the pack is for any run to reuse.
    await putIfAbsent(clients.s3, packIndexObject(loc, id), pack.files.index(), "application/json");
  } catch (err) {
    await deleteObject(clients.s3, obj).catch(() => undefined);
    throw err;
  }
  return pack.files;
}

/** Stands for the tree's name, as long, until its pack is up. */
export const TREE_NAME_PENDING = "0".repeat(64);

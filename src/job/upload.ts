/** The upload stage: the inputs archive, packed while it streams into S3, unless it is already there. */
import { abortIncompleteUploads } from "../aws/multipart.js";
import { objectExists, s3Url, uploadStream, type S3Object } from "../aws/s3.js";
import { InterruptedError } from "../errors.js";
import { formatBytes, plural } from "../ui/format.js";
import { startProgress } from "../ui/progress.js";
import type { BatchContext } from "./context.js";
import { packInputChunks, type Inputs } from "./pack.js";

export async function uploadInputs(ctx: BatchContext, inputs: Inputs, obj: S3Object, needed: boolean, signal: AbortSignal): Promise<void> {
  const what = `${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}`;
  if (!needed) ctx.out.info(`Inputs unchanged (${what}): already at ${s3Url(obj)}`);
  else {
    await upload(ctx, inputs, obj, what, signal).catch(async (err: unknown) => {
      // Another run of the same directory completed the same key meanwhile (and aborted this upload as stale).
      if (err instanceof InterruptedError || !(await objectExists(ctx.clients.s3, obj).catch(() => false))) throw err;
      ctx.out.info(`Inputs uploaded meanwhile by another run: using ${s3Url(obj)}`);
    });
  }
  await abortStaleUploads(ctx, obj);
}

async function upload(ctx: BatchContext, inputs: Inputs, obj: S3Object, what: string, signal: AbortSignal): Promise<void> {
  const { out, clients, clock } = ctx;
  out.info(`Uploading ${inputs.dir} (${what}) to ${s3Url(obj)}`);
  const started = clock.now();
  let read = 0;
  const progress = startProgress(out, clock, "Uploading", inputs.manifest.bytes);
  try {
    const body = packInputChunks(inputs, (n) => progress.update((read += n)));
    await uploadStream(clients.s3, obj, body, { signal, estimatedBytes: inputs.manifest.bytes });
  } catch (err) {
    if (signal.aborted) throw new InterruptedError("Interrupted while uploading; the partial upload was aborted and nothing was submitted");
    throw err;
  } finally {
    progress.finish();
  }
  out.info(`Uploaded in ${((clock.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * With the inputs in place, an incomplete upload of the same key (the same
 * content, by its fingerprint) is of no use: one a killed run left behind
 * is aborted rather than billed until the lifecycle rule. A policy without
 * s3:ListBucketMultipartUploads, or a store without the call, only skips this.
 */
async function abortStaleUploads(ctx: BatchContext, obj: S3Object): Promise<void> {
  try {
    const aborted = await abortIncompleteUploads(ctx.clients.s3, obj);
    if (aborted) ctx.out.info(`Aborted ${plural(aborted, "incomplete upload")} of ${s3Url(obj)} left by an earlier run`);
  } catch (err) {
    ctx.out.detail(`could not look for incomplete uploads of ${s3Url(obj)}: ${(err as Error).message}`);
  }
}

/** The upload stage: the inputs archive, packed while it streams into S3, unless it is already there. */
import { s3Url, uploadStream, type S3Object } from "../aws/s3.js";
import { InterruptedError } from "../errors.js";
import { formatBytes, plural } from "../ui/format.js";
import { startProgress } from "../ui/progress.js";
import type { BatchContext } from "./context.js";
import { packInputChunks, type Inputs } from "./pack.js";

export async function uploadInputs(ctx: BatchContext, inputs: Inputs, obj: S3Object, needed: boolean, signal: AbortSignal): Promise<void> {
  const { out, clients, clock } = ctx;
  const what = `${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}`;
  if (!needed) {
    out.info(`Inputs unchanged (${what}): already at ${s3Url(obj)}`);
    return;
  }
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

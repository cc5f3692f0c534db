import type { SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { EXIT } from "../../errors.js";
import { plural } from "../../ui/format.js";
import type { Output } from "../../ui/output.js";
import { excludedLines, type Inputs } from "../../job/pack.js";
import { tallied, type Upload } from "../../job/upload.js";

/** --dry-run: what would be uploaded, what reused, and what submitted (with fan-out, how many tasks), after read-only look-ups only. */
export function printDryRun(out: Output, inputs: Inputs, upload: Upload, input: SubmitJobCommandInput, tasks?: number): number {
  const m = inputs.manifest;
  const { fresh, reused } = upload;
  if (upload.unchanged) out.info(`Would upload nothing from ${inputs.dir}: its ${tallied(reused)} are already in S3, and so is their tree`);
  else out.info(`Would upload ${tallied(fresh)} from ${inputs.dir}, and the tree of the directory; would reuse ${tallied(reused)} already in S3`);
  if (upload.plan.repacked) out.info(`  (${upload.plan.repacked} of those to upload are in S3 already, and go up again to keep the inputs within a few packs)`);
  for (const line of excludedLines(inputs)) out.info(line);
  const what = tasks === undefined ? "Would submit (SubmitJob" : `Would submit ${plural(tasks, "task")}; the first (or only) array job (SubmitJob`;
  out.info(`${what}${upload.tree ? "" : "; the tree's name in NBATCH_INPUTS_URL is known once its files are packed"}):`);
  const request = JSON.stringify(input, null, 2);
  if (out.json) out.info(request);
  else for (const line of request.split("\n")) out.info(`  ${line}`);
  if (out.json) {
    const counts = { uploadFiles: fresh.files, uploadBytes: fresh.bytes, reuseFiles: reused.files, reuseBytes: reused.bytes };
    out.emit({ type: "dry-run", files: m.files, bytes: m.bytes, upload: !upload.unchanged, ...counts, excluded: m.excluded, submitJob: input, ...(tasks !== undefined ? { tasks } : {}) });
  }
  return EXIT.ok;
}

import type { SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { s3Url, type S3Object } from "../../aws/s3.js";
import { EXIT } from "../../errors.js";
import { formatBytes, plural } from "../../ui/format.js";
import type { Reporter } from "../../ui/reporter.js";
import type { Inputs } from "../../job/pack.js";

/** --dry-run: what would be uploaded and submitted, after read-only look-ups only. */
export function printDryRun(reporter: Reporter, inputs: Inputs, obj: S3Object, upload: boolean, input: SubmitJobCommandInput): number {
  const m = inputs.manifest;
  reporter.info(`Would upload ${plural(m.files, "file")} (${formatBytes(m.bytes)}) from ${inputs.dir}`);
  reporter.info(upload ? `  to ${s3Url(obj)}` : `  but they are already at ${s3Url(obj)}: nothing would be uploaded`);
  if (m.excluded.length) {
    reporter.info(`Excluded (${m.excluded.length}):`);
    for (const e of m.excluded) reporter.info(`  ${e.path}  (${e.rule})`);
  }
  reporter.info("Would submit (SubmitJob):");
  const request = JSON.stringify(input, null, 2);
  if (reporter.json) reporter.info(request);
  else for (const line of request.split("\n")) reporter.info(`  ${line}`);
  if (reporter.json) reporter.emit({ type: "dry-run", files: m.files, bytes: m.bytes, inputsUrl: s3Url(obj), upload, excluded: m.excluded, submitJob: input });
  return EXIT.ok;
}

import type { SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { s3Url, type S3Object } from "../../aws/s3.js";
import { EXIT } from "../../errors.js";
import { formatBytes, plural } from "../../ui/format.js";
import type { Output } from "../../ui/output.js";
import { excludedLines, type Inputs } from "../../job/pack.js";

/** --dry-run: what would be uploaded and submitted, after read-only look-ups only. */
export function printDryRun(out: Output, inputs: Inputs, obj: S3Object, upload: boolean, input: SubmitJobCommandInput): number {
  const m = inputs.manifest;
  out.info(`Would upload ${plural(m.files, "file")} (${formatBytes(m.bytes)}) from ${inputs.dir}`);
  out.info(upload ? `  to ${s3Url(obj)}` : `  but they are already at ${s3Url(obj)}: nothing would be uploaded`);
  for (const line of excludedLines(inputs)) out.info(line);
  out.info("Would submit (SubmitJob):");
  const request = JSON.stringify(input, null, 2);
  if (out.json) out.info(request);
  else for (const line of request.split("\n")) out.info(`  ${line}`);
  if (out.json) out.emit({ type: "dry-run", files: m.files, bytes: m.bytes, inputsUrl: s3Url(obj), upload, excluded: m.excluded, submitJob: input });
  return EXIT.ok;
}

/**
 * Limits Batch puts on a SubmitJob request that nbatch's own flags cannot
 * check one by one, checked before anything is uploaded: otherwise the
 * upload is paid for and the job fails at submission, or worse, at start.
 * (The job name needs no check: runid.ts jobName makes a valid one from any
 * directory name; tags and --timeout are checked as flags, commands/build/parse.ts.)
 */
import type { SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { UsageError } from "../errors.js";

/**
 * Batch starts the job with ECS RunTask, whose overrides may total 8192
 * characters, JSON formatting included (Amazon ECS API reference, RunTask:
 * "A total of 8192 characters are allowed for overrides"); past it the job
 * is submitted and then fails with "Container Overrides length must be at
 * most 8192". Batch adds its own variables (AWS_BATCH_JOB_ID, the queue and
 * compute environment names...) and the container's name: 1 KiB is left for
 * them.
 */
export const MAX_OVERRIDES_CHARS = 8192 - 1024;

export function checkSubmitLimits(input: SubmitJobCommandInput): void {
  // The agent's container gets the overrides in either form: containerOverrides, or ecsPropertiesOverride's container.
  const size = JSON.stringify(input.containerOverrides ?? input.ecsPropertiesOverride?.taskProperties?.[0]?.containers?.[0] ?? {}).length;
  if (size > MAX_OVERRIDES_CHARS) {
    throw new UsageError(
      `the command and the job's environment take ${size} characters, more than the ${MAX_OVERRIDES_CHARS} Batch can pass to the container: ` +
        "put a long command in a script in the directory and run that",
    );
  }
}

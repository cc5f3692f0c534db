import { Command } from "commander";
import { addAwsOptions } from "../aws-options.js";
import type { CommandDefinition } from "../context.js";

export const checkSetupCommand: CommandDefinition = (ctx) =>
  addAwsOptions(
    new Command("check-setup")
      .description("Check the AWS setup nbatch needs: credentials, region, bucket, queue, compute environments, job definition, logs")
      .option("--aws-batch", "check the AWS Batch setup (default when [core] runner = aws-batch)")
      .option("--json", "print the results as one JSON object on stdout")
      .option("--gpus <n>", "can the queue give a job this many GPUs?")
      .option("--arch <arch>", "can the queue run x86_64 or arm64 jobs?"),
    ["aws-batch.job", "aws-batch.queue", "aws-batch.s3-bucket", "aws-batch.cpus", "aws-batch.memory", "aws-batch.share"],
  )
    .addHelpText(
      "after",
      `
Each check prints ✔ (fine), ⚠ (works, but costs money or risks data) or ✘
(nbatch build will fail), with a line on how to fix it. The exit status is 1
when a ✘ check failed, else 0.

Examples:
  nbatch check-setup --aws-batch
  nbatch check-setup --aws-batch --aws-batch-cpus 8 --aws-batch-memory 15GiB   # can the queue fit this job?
  nbatch check-setup --aws-batch --json | jq '.checks[] | select(.status != "ok")'`,
    )
    .action(async (flags) => {
      const { checkSetupRun } = await import("./run.js");
      ctx.out.exitCode(await checkSetupRun(flags, ctx));
    });

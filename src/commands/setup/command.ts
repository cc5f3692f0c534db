import { Command, Option } from "commander";
import { DEFAULT_NAMES } from "../../setup/policies.js";
import { addSettingOptions } from "../aws-options.js";
import type { CommandContext, CommandDefinition } from "../context.js";

export const setupCommand: CommandDefinition = (ctx) =>
  new Command("setup")
    .description("Help with the one-time setup of a runner (the full guide: docs/aws-setup.md)")
    .addHelpText("after", "\nExample:\n  nbatch setup aws-batch --print-policies --aws-batch-s3-bucket s3://my-lab-nbatch/jobs")
    .addCommand(awsBatchCommand(ctx));

const awsBatchCommand = (ctx: CommandContext) =>
  addSettingOptions(
    new Command("aws-batch")
      .description("Print the IAM policies or the CloudFormation template of the AWS Batch setup")
      .option("--print-policies", "print the IAM policies for the configured bucket, queue and job definition")
      .addOption(new Option("--policy <name>", "with --print-policies: print only this one, as bare JSON").choices(["user", "job-role", "secrets"]))
      .option("--log-group <name>", "the job definition's awslogs-group, whose logs users read", DEFAULT_NAMES.logGroup)
      .option("--print-template", "print the CloudFormation template that creates the whole setup"),
    ["aws-batch.s3-bucket", "aws-batch.queue", "aws-batch.job"],
  )
    .addHelpText(
      "after",
      `
The policies are scoped to the bucket and prefix, the queue, the job
definition (and its <job>-* variants for --image and --secret), the log group,
and the roles ${DEFAULT_NAMES.jobRole} and ${DEFAULT_NAMES.executionRole}.

Examples:
  nbatch setup aws-batch --print-policies --aws-batch-s3-bucket s3://my-lab-nbatch/jobs
  nbatch setup aws-batch --print-policies --policy user > user-policy.json
  nbatch setup aws-batch --print-template > nbatch.yaml`,
    )
    .action(async (flags) => {
      const { setupAwsBatchRun } = await import("./run.js");
      ctx.out.exitCode(await setupAwsBatchRun(flags, ctx));
    });

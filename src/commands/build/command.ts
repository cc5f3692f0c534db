import { Command } from "commander";
import { collect, type CommandDefinition } from "../context.js";

export const buildCommand: CommandDefinition = (ctx) =>
  new Command("build")
    .description("Run <command> over <dir>: on AWS Batch with --aws-batch, else on this machine")
    .argument("<dir>", "the directory to upload, run in, and bring results back to")
    .argument("[command...]", "the command to run (after --); default: the job definition's command")
    .option("--aws-batch", "run on AWS Batch (default when [core] runner = aws-batch)")
    .option("--local", "run on this machine, through the same pack/run/unpack path")
    .option("--aws-batch-job <name>", "job definition name, name:revision or ARN (default nbatch-job)")
    .option("--aws-batch-queue <name>", "job queue (default nbatch-job-queue)")
    .option("--aws-batch-s3-bucket <bucket[/prefix]>", "S3 bucket and optional key prefix for inputs and results")
    .option("--aws-batch-cpus <n>", "vCPUs for the job (default: the job definition's)")
    .option("--aws-batch-memory <size>", "memory for the job, e.g. 15GiB, 7200MB or 4096 (MiB)")
    .option("--agent-command <command>", "how the job starts the agent (default: nbatch agent)")
    .option("--image <image>", "run a container image other than the job definition's")
    .option("--env <NAME[=VALUE]>", "pass an environment variable to the job (repeatable); values never appear in the job description", collect, [])
    .option("--exclude-from-upload <pattern>", "gitignore-style pattern of paths not to upload (repeatable)", collect, [])
    .option("--download <pattern>", "only download results matching this glob (repeatable; ! negates)", collect, [])
    .option("--exclude-from-download <pattern>", "do not download results matching this glob (repeatable)", collect, [])
    .option("--aws-region <region>", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1)")
    .option("--aws-profile <profile>", "AWS profile for credentials (default: AWS_PROFILE)")
    .addHelpText(
      "after",
      `
Examples:
  nbatch build examples/hello -- ./hello.sh                  # on this machine
  nbatch build --aws-batch ./analysis -- make all             # on AWS Batch
  nbatch build --aws-batch --aws-batch-memory 15GiB --aws-batch-cpus 8 ./wf -- snakemake -j8
  nbatch build --aws-batch --env NCBI_API_KEY ./wf -- ./fetch.sh`,
    )
    .action(async (dir: string, command: string[], flags) => {
      const { buildRun } = await import("./run.js");
      ctx.setExit(await buildRun(dir, command, flags, ctx));
    });

import { Command } from "commander";
import { addAwsOptions } from "../aws-options.js";
import { collect, type CommandDefinition } from "../context.js";

export const buildCommand: CommandDefinition = (ctx) =>
  addAwsOptions(new Command("build"))
    .description("Run <command> over <dir>: on AWS Batch with --aws-batch, else on this machine")
    .argument("[dir]", "the directory to upload, run in, and bring results back to")
    .argument("[command...]", "the command to run (after --); default: the job definition's command")
    .option("--aws-batch", "run on AWS Batch (default when [core] runner = aws-batch)")
    .option("--local", "run on this machine, through the same pack/run/unpack path")
    .option("--image <image>", "run a container image other than the job definition's")
    .option("--secret <NAME=ARN>", "set NAME in the job from a Secrets Manager secret or SSM parameter (repeatable)", collect, [])
    .option("--env <NAME[=VALUE]>", "pass an environment variable to the job (repeatable); values never appear in the job description", collect, [])
    .option("--exclude-from-upload <pattern>", "gitignore-style pattern of paths not to upload (repeatable)", collect, [])
    .option("--download <pattern>", "only download results matching this glob (repeatable; ** {a,b} and ! negation)", collect, [])
    .option("--exclude-from-download <pattern>", "do not download results matching this glob (repeatable)", collect, [])
    .option("--no-download", "do not download results")
    .option("--no-logs", "do not show the job's log")
    .option("--detach", "return once the job is submitted, printing how to re-attach")
    .option("--attach <job-id>", "follow a job submitted earlier: status, log so far, live log, then results")
    .option("--cancel", "with --attach: stop the job at once")
    .option("--detach-on-interrupt", "make Ctrl-C detach from the job instead of cancelling it")
    .option("--retries <n>", "retry a failed attempt up to n times: those --retry-on names, else the job definition's rules, else spot reclaims only")
    .option("--retry-on <what>", "with --retries: spot (attempts lost with their instance), any (every failure), or exit codes, e.g. spot,137", collect, [])
    .option("--resume", "a retried attempt starts from the results the previous one left, so make or Snakemake resume")
    .option("--priority <n>", "scheduling priority on a fair-share queue, 0 to 9999 (higher runs sooner)")
    .option("--gpus <n>", "GPUs for the job (EC2 compute environments with GPU instances)")
    .option("--disk <size>", "ephemeral storage on Fargate, 21GiB to 200GiB")
    .option("--arch <arch>", "CPU architecture on Fargate: x86_64 or arm64")
    .option("--shm-size <size>", "size of /dev/shm on EC2, e.g. 2GiB")
    .option("--timeout <duration>", "stop each attempt after this long, e.g. 90m or 6h (at least 60s)")
    .option("--tag <KEY=VALUE>", "tag the job (repeatable); tags propagate to its ECS task", collect, [])
    .option("--dry-run", "show what would be uploaded, reused and submitted, and do nothing")
    .option("--json", "print newline-delimited JSON events on stdout (text goes to stderr)")
    .addHelpText(
      "after",
      `
Examples:
  nbatch build examples/hello -- ./hello.sh                  # on this machine
  nbatch build --aws-batch ./analysis -- make all             # on AWS Batch
  nbatch build --aws-batch --aws-batch-memory 15GiB --aws-batch-cpus 8 ./wf -- snakemake -j8
  nbatch build --aws-batch --env NCBI_API_KEY ./wf -- ./fetch.sh
  nbatch build --aws-batch --detach ./wf -- make              # submit and return
  nbatch build --attach 5e0b3c1a-... ./wf                     # come back to it later
  nbatch build --attach 5e0b3c1a-... --cancel --no-download   # stop it
  nbatch build --aws-batch --dry-run ./wf -- make             # what would be sent
  nbatch build --aws-batch --json --detach ./wf -- make | jq -r 'select(.type=="submitted").jobId'

Ctrl-C twice (once when stdin is not a terminal) cancels a submitted job;
Ctrl-Z or SIGHUP detaches from it.`,
    )
    .action(async (dir: string | undefined, command: string[], flags) => {
      const { buildRun } = await import("./run.js");
      ctx.out.exitCode(await buildRun(dir, command, flags, ctx));
    });

import { Command } from "commander";
import { addAwsOptions } from "../aws-options.js";
import { collect, type CommandDefinition } from "../context.js";

export const buildCommand: CommandDefinition = (ctx) =>
  addAwsOptions(new Command("build"))
    .description("Run <command> over <dir>: on AWS Batch with --aws-batch, else on this machine")
    .argument("[dir]", "the directory to upload, run in, and bring results back to")
    .argument("[command...]", "the command to run (after --); default: [build] command in <dir>/nbatch.ini, else the job definition's")
    .option("--aws-batch", "run on AWS Batch (default when [core] runner = aws-batch)")
    .option("--local", "run on this machine, through the same pack/run/unpack path")
    .option("--secret <NAME=ARN>", "set NAME in the job from a Secrets Manager secret or SSM parameter (repeatable)", collect, [])
    .option("--env <NAME[=VALUE]>", "pass an environment variable to the job (repeatable); values never appear in the job description", collect, [])
    .option("--envdir <dir>", "pass each file in dir as a variable: its name, and its contents as the value (repeatable; --env wins)", collect, [])
    .option("--exclude-from-upload <pattern>", "gitignore-style pattern of paths not to upload (repeatable)", collect, [])
    .option("--no-download", "do not download results")
    .option("--no-logs", "do not show the job's log")
    .option("--detach", "return once the job is submitted, printing how to re-attach")
    .option("--attach <job-id>", "follow a job submitted earlier: status, log so far, live log, then results (into <dir>, else the directory it came from)")
    .option("--cancel", "with --attach: stop the job at once")
    .option("--detach-on-interrupt", "make Ctrl-C detach from the job instead of cancelling it")
    .option("--retries <n>", "retry a failed job up to n times (Batch retryStrategy)")
    .option("--timeout <duration>", "stop each attempt after this long, e.g. 90m or 6h (at least 60s)")
    .option("--tag <KEY=VALUE>", "tag the job (repeatable); tags propagate to its ECS task", collect, [])
    .option("--dry-run", "show what would be uploaded (each excluded path and its rule) and run or submitted, and do nothing")
    .option("--json", "print newline-delimited JSON events on stdout (text goes to stderr)")
    .addHelpText(
      "after",
      `
Examples:
  nbatch build examples/hello                                 # on this machine; its nbatch.ini names the command
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

import { Command, Option } from "commander";
import { addAwsOptions } from "../aws-options.js";
import { collect, type CommandDefinition } from "../context.js";
import { groupOptions } from "../option-groups.js";
import { offerChoices } from "../completion/values.js";

/** build's many options, by what they are about. */
const GROUPS = {
  "Where to run:": ["--aws-batch", "--local", "--aws-batch-job", "--aws-batch-queue", "--aws-batch-s3-bucket", "--aws-region", "--aws-profile", "--image", "--workdir", "--agent-command"],
  "Resources:": ["--aws-batch-cpus", "--aws-batch-memory", "--gpus", "--disk", "--arch", "--shm-size", "--timeout"],
  "Retries and scheduling:": ["--retries", "--retry-on", "--resume", "--share", "--priority"],
  "What travels:": [
    "--env",
    "--envdir",
    "--secret",
    "--exclude-from-upload",
    "--download",
    "--exclude-from-download",
    "--no-download",
    "--max-results-size",
    "--max-results-entries",
    "--aws-batch-s3-bucket-owner",
    "--sse",
    "--sse-kms-key-id",
  ],
  "Fan-out:": ["--array", "--each", "--array-parallel", "--follow-child", "--rerun-failed"],
  "Job control:": ["--detach", "--attach", "--cancel", "--detach-on-interrupt", "--tag", "--dry-run"],
  "Output:": ["--no-logs", "--json"],
};

export const buildCommand: CommandDefinition = (ctx) =>
  groupOptions(definition(), GROUPS).action(async (dir: string | undefined, command: string[], flags) => {
    const { buildRun } = await import("./run.js");
    ctx.out.exitCode(await buildRun(dir, command, flags, ctx));
  });

const definition = () =>
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
    .option("--retries <n>", "retry a failed attempt up to n times: those --retry-on names, else the job definition's rules, else spot reclaims only")
    .addOption(offerChoices(new Option("--retry-on <what>", "with --retries: spot (attempts lost with their instance), any (every failure), or exit codes, e.g. spot,137").argParser(collect).default([]), ["spot", "any"]))
    .option("--resume", "a retried attempt starts from the results the previous one left, so make or Snakemake resume")
    .option("--priority <n>", "scheduling priority on a fair-share queue, 0 to 9999 (higher runs sooner)")
    .option("--gpus <n>", "GPUs for the job (EC2 compute environments with GPU instances)")
    .option("--disk <size>", "ephemeral storage on Fargate, 21GiB to 200GiB")
    .addOption(offerChoices(new Option("--arch <arch>", "CPU architecture on Fargate: x86_64 or arm64"), ["x86_64", "arm64"]))
    .option("--shm-size <size>", "size of /dev/shm on EC2, e.g. 2GiB")
    .option("--timeout <duration>", "stop each attempt after this long, e.g. 90m or 6h (at least 60s)")
    .option("--tag <KEY=VALUE>", "tag the job (repeatable); tags propagate to its ECS task", collect, [])
    .option("--array <n>", "run the command as n tasks (2 to 10000) over one upload; each sees its index in AWS_BATCH_JOB_ARRAY_INDEX")
    .option("--each <pattern>", "one task per path of <dir> matching this glob, in sorted order (repeatable); the task sees it in NBATCH_ITEM and {} in the command", collect, [])
    .option("--array-parallel <k>", "with --array or --each: run at most k tasks at once")
    .option("--follow-child <i>", "with --array or --each: show task i's log as it runs (repeatable)", collect, [])
    .option("--rerun-failed <run-id>", "run again only the tasks of a fan-out run that failed, from the same inputs, and bring their results home")
    .option("--dry-run", "show what would be uploaded (each excluded path and its rule), reused and run or submitted, and do nothing")
    .option("--json", "print newline-delimited JSON events on stdout (text goes to stderr)")
    .addHelpText(
      "after",
      `
Examples:
  nbatch build examples/hello                  # nbatch.ini names the command
  nbatch build --aws-batch ./analysis -- make all
  nbatch build --aws-batch --aws-batch-cpus 8 ./wf -- snakemake --cores 8
  nbatch build --aws-batch --env NCBI_API_KEY ./wf -- ./fetch.sh
  nbatch build --aws-batch --workdir phylogenetic ./zika -- snakemake
  id=$(nbatch build --aws-batch --detach ./wf -- make)     # submit and return
  nbatch build --attach "$id"                  # later: its log, then results
  nbatch build --attach "$id" --cancel --no-download       # stop it
  nbatch build --dry-run ./wf -- make          # what would travel, what not
  nbatch build --aws-batch --each 'samples/*.fq.gz' ./wf -- ./align.sh {}   # one task per sample
  nbatch build --aws-batch --array 100 --array-parallel 10 ./sim -- ./run.sh
  nbatch build --rerun-failed 0196...          # only the tasks that failed

Ctrl-C twice (once when stdin is not a terminal) cancels a submitted job;
Ctrl-Z or SIGHUP detaches from it.`,
    );

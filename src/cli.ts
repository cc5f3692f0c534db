import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { EXIT, InterruptedError, isUserError } from "./errors.js";
import { processIO, type IO } from "./ui/io.js";
import type { CommandContext } from "./commands/context.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

const collect = (value: string, previous: string[]) => [...previous, value];

/** Builds the commander program; actions lazy-load their command so --help and --version stay fast. */
function program(ctx: CommandContext, setExit: (code: number) => void): Command {
  const p = new Command("nbatch")
    .description("Run a command over a local directory on AWS Batch as if it ran locally.")
    .version(version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });

  p.command("build")
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
  nbatch build examples/hello                                # run on this machine
  nbatch build --aws-batch ./analysis -- make all             # run on AWS Batch
  nbatch build --aws-batch --aws-batch-memory 15GiB --aws-batch-cpus 8 ./wf -- snakemake -j8
  nbatch build --aws-batch --env GITHUB_TOKEN ./wf -- ./run.sh`,
    )
    .action(async (dir: string, command: string[], flags) => {
      const { buildRun } = await import("./commands/build.js");
      setExit(await buildRun(dir, command, flags, ctx));
    });

  p.command("agent")
    .description("The job side: unpack inputs, run <command>, upload results (runs inside the Batch job)")
    .argument("<command...>", "the command to run (after --)")
    .addHelpText("after", "\nExample (what nbatch build submits):\n  nbatch agent -- make all")
    .action(async (command: string[]) => {
      const { agentRun } = await import("./commands/agent.js");
      setExit(await agentRun(command, ctx));
    });
  return p;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: IO = processIO()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const ctx: CommandContext = { io, env };
  try {
    await program(ctx, (code) => (exitCode = code)).parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    return reportError(err, io, Boolean(env.NBATCH_DEBUG));
  }
}

/** The one place errors become exit codes. */
function reportError(err: unknown, io: IO, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message (or the help / version).
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (debug && err instanceof Error) io.stderr.write(`${err.stack}\n`);
  if (err instanceof InterruptedError) {
    io.info(err.message);
    return err.exitCode;
  }
  if (isUserError(err)) {
    io.stderr.write(`nbatch: error: ${err.message}\n`);
    return err.exitCode;
  }
  io.stderr.write(`nbatch: internal error: ${(err as Error)?.message ?? String(err)}\n`);
  if (!debug) io.stderr.write("(set NBATCH_DEBUG=1 to see the stack trace, and please report it)\n");
  return EXIT.failure;
}


import { Command, CommanderError, Help, type Option } from "commander";
import { createRequire } from "node:module";
import { EXIT, InterruptedError, isUserError, UsageError } from "./errors.js";
import { processIO, type IO } from "./ui/io.js";
import { agentCommand } from "./commands/agent/command.js";
import { buildCommand } from "./commands/build/command.js";
import { checkSetupCommand } from "./commands/check-setup/command.js";
import { completionCommand } from "./commands/completion/command.js";
import { configCommand } from "./commands/config/command.js";
import { setupCommand } from "./commands/setup/command.js";
import { cancelCommand } from "./commands/cancel/command.js";
import { logsCommand } from "./commands/logs/command.js";
import { lsCommand } from "./commands/ls/command.js";
import { statusCommand } from "./commands/status/command.js";
import type { CommandContext, CommandDefinition } from "./commands/context.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

/** Every command; adding one is one line here and a folder in src/commands/. */
const COMMANDS: CommandDefinition[] = [
  buildCommand,
  statusCommand,
  logsCommand,
  cancelCommand,
  lsCommand,
  agentCommand,
  checkSetupCommand,
  configCommand,
  completionCommand,
  setupCommand,
];

function program(ctx: CommandContext): Command {
  const p = new Command("nbatch")
    .description("Run a command over a local directory on AWS Batch as if it ran locally.")
    .version(version, "-V, --version")
    .option("-q, --quiet", "only errors, warnings and the job's own output")
    .option("-v, --verbose", "more detail about each step")
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ optionDescription })
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });
  for (const define of COMMANDS) p.addCommand(inherit(define(ctx), p));
  p.hook("preAction", (root) => {
    const { quiet, verbose } = root.opts<{ quiet?: boolean; verbose?: boolean }>();
    if (quiet && verbose) throw new UsageError("--quiet and --verbose conflict: choose one");
    ctx.io.setVerbosity(quiet ? "quiet" : verbose ? "verbose" : "normal");
  });
  return p;
}

/** Commander's option help, without "(default: [])" on repeatable options: an empty list says nothing. */
function optionDescription(this: Help, option: Option): string {
  const empty = Array.isArray(option.defaultValue) && option.defaultValue.length === 0;
  return Help.prototype.optionDescription.call(this, empty ? Object.assign(Object.create(option) as Option, { defaultValue: undefined }) : option);
}

/** Output, help and exit handling reach nested subcommands (`config set`) too. */
function inherit(command: Command, parent: Command): Command {
  command.copyInheritedSettings(parent);
  for (const sub of command.commands) inherit(sub, command);
  return command;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: IO = processIO()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const ctx: CommandContext = { io, env, setExit: (code) => (exitCode = code) };
  try {
    await program(ctx).parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    return reportError(err, io, /^(1|true|yes|on)$/i.test(env.NBATCH_DEBUG ?? ""));
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


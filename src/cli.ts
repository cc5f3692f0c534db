import { Command, CommanderError, Option } from "commander";
import { createRequire } from "node:module";
import { unhandledAwsError } from "./aws/errors.js";
import { EXIT, InterruptedError, isUserError, UsageError, UserError } from "./errors.js";
import { agentCommand } from "./commands/agent/command.js";
import { buildCommand } from "./commands/build/command.js";
import { checkSetupCommand } from "./commands/check-setup/command.js";
import { completeValuesCommand, completionCommand } from "./commands/completion/command.js";
import { configCommand } from "./commands/config/command.js";
import { helpCommand } from "./commands/help/command.js";
import { setupCommand } from "./commands/setup/command.js";
import { cancelCommand } from "./commands/cancel/command.js";
import { logsCommand } from "./commands/logs/command.js";
import { lsCommand } from "./commands/ls/command.js";
import { statusCommand } from "./commands/status/command.js";
import type { CommandContext, CommandDefinition } from "./commands/context.js";
import { processContext } from "./process.js";
import { printable } from "./ui/format.js";
import { helpColumns, helpConfiguration, wrapProse } from "./ui/help.js";
import type { Output } from "./ui/output.js";

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
  helpCommand,
];

function program(ctx: CommandContext): Command {
  const columns = helpColumns(ctx.env, ctx.out.columns);
  const p = new Command("nbatch")
    .description("Run a command over a local directory on AWS Batch as if it ran locally.")
    .version(version, "-V, --version")
    .option("-q, --quiet", "only errors, warnings and the job's own output")
    .option("-v, --verbose", "more detail about each step")
    .helpCommand(false)
    .configureHelp(helpConfiguration(columns))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.out.document(wrapProse(s, columns)),
      writeErr: (s) => ctx.out.error(s.replace(/\n$/, "")),
      // commander's "error: unknown option '--x'", as nbatch's one line, with where to look.
      outputError: (s, write) => write(`nbatch: ${s.trim()} (see --help)`),
    });
  for (const define of COMMANDS) p.addCommand(inherit(define(ctx), p));
  p.addCommand(inherit(completeValuesCommand(ctx), p), { hidden: true });
  p.hook("preAction", (root) => {
    const { quiet, verbose } = root.opts<{ quiet?: boolean; verbose?: boolean }>();
    if (quiet && verbose) throw new UsageError("--quiet and --verbose conflict: choose one");
    ctx.out.setVerbosity(quiet ? "quiet" : verbose ? "verbose" : "normal");
  });
  return p;
}

/** Output, help and exit handling reach nested subcommands (`config set`) too. */
function inherit(command: Command, parent: Command): Command {
  command.copyInheritedSettings(parent);
  // A command whose options are grouped lists --help in its last group, not under an "Options:" of its own.
  const last = command.options.at(-1)?.helpGroupHeading;
  if (last) command.addHelpOption(new Option("-h, --help", "display help for command").helpGroup(last));
  for (const sub of command.commands) inherit(sub, command);
  return command;
}

export async function main(argv: string[], ctx: CommandContext = processContext()): Promise<number> {
  // Set before parsing, so that even a bad flag ends a --json stream with its exit event.
  if (wantsJsonEvents(argv)) ctx.out.useJson();
  try {
    await program(ctx).parseAsync(argv, { from: "user" });
    return ctx.out.finish();
  } catch (err) {
    return ctx.out.finish(reportError(err, ctx.out, /^(1|true|yes|on)$/i.test(ctx.env.NBATCH_DEBUG ?? "")));
  }
}

/** `nbatch [global flags] build ... --json ...`, the flag before any `--`. */
function wantsJsonEvents(argv: readonly string[]): boolean {
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  const words = argv.slice(0, end);
  return words.find((w) => !w.startsWith("-")) === "build" && words.includes("--json");
}

/** The one place errors become exit codes; returns the code and the line for the exit event. */
function reportError(err: unknown, out: Output, debug: boolean): { code: number; error?: string } {
  if (err instanceof CommanderError) {
    // commander has already printed its message (or the help / version).
    return err.exitCode === 0 ? { code: EXIT.ok } : { code: EXIT.usage, error: err.message };
  }
  if (debug && err instanceof Error) {
    out.error(err.stack ?? String(err));
    if (err.cause instanceof Error) out.error(`caused by: ${err.cause.stack ?? String(err.cause)}`);
  }
  if (err instanceof InterruptedError) {
    out.info(err.message);
    return { code: err.exitCode, error: err.message };
  }
  // A server's or the network's answer that no caller handled is the user's to fix or retry, not a bug.
  const user = isUserError(err) ? err : (fullDisk(err) ?? unhandledAwsError(err));
  // A message may quote a job's paths or a server's words: it is shown escaped, as one line.
  if (user) {
    out.error(`nbatch: error: ${printable(user.message)}`);
    return { code: user.exitCode, error: user.message };
  }
  const message = (err as Error)?.message ?? String(err);
  out.error(`nbatch: internal error: ${printable(message)}`);
  if (!debug) out.error("(set NBATCH_DEBUG=1 to see the stack trace, and please report it)");
  return { code: EXIT.failure, error: message };
}

/** A full disk or quota is the user's to fix wherever it strikes (the agent's results, a copy in TMPDIR). */
function fullDisk(err: unknown): UserError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return undefined;
  return new UserError(`${(err as Error).message}: free some space (or raise the quota), then run again`, { cause: err });
}

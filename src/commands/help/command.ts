import { Command } from "commander";
import type { CommandDefinition } from "../context.js";

/**
 * `nbatch help [command...]`, in place of commander's own, which answers a
 * name it does not know with the whole program's help instead of saying so.
 */
export const helpCommand: CommandDefinition = (ctx) =>
  new Command("help")
    .description("display help for command")
    .argument("[command...]", "the command, e.g. build or config set")
    .addHelpText("after", "\nExamples:\n  nbatch help build\n  nbatch help config set")
    .action(async (words: string[], _flags: unknown, command: Command) => {
      const { helpRun } = await import("./run.js");
      ctx.out.exitCode(helpRun(words, command.parent!));
    });

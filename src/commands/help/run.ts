import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { isListed } from "../context.js";

/** Prints the help of the command the words name, or says which word names none. */
export function helpRun(words: readonly string[], program: Command): number {
  let command = program;
  for (const [i, word] of words.entries()) {
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) {
      const at = ["nbatch", ...words.slice(0, i)].join(" ");
      const known = command.commands.filter(isListed).map((c) => c.name()).filter((n) => n !== "help");
      throw new UsageError(`unknown command "${word}" for ${at}: ${known.length ? `use one of ${known.join(", ")}` : `${at} has no subcommands`}`);
    }
    command = sub;
  }
  command.outputHelp();
  return 0;
}

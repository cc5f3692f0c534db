import { Argument, Command } from "commander";
import type { CommandDefinition } from "../context.js";
import type { Dynamic } from "./values.js";

const SHELLS = ["bash", "zsh", "fish"] as const;

export const completionCommand: CommandDefinition = (ctx) =>
  new Command("completion")
    .description("Print a shell completion script for nbatch's commands, options and values")
    .addArgument(new Argument("<shell>", "the shell to complete in").choices(SHELLS))
    .addHelpText(
      "after",
      `
Examples:
  source <(nbatch completion bash)                                   # this bash session
  nbatch completion bash > ~/.local/share/bash-completion/completions/nbatch
  nbatch completion zsh > "\${fpath[1]}/_nbatch"                       # then restart zsh
  nbatch completion fish > ~/.config/fish/completions/nbatch.fish`,
    )
    .action(async (shell: (typeof SHELLS)[number], _flags: unknown, command: Command) => {
      const { completionRun } = await import("./run.js");
      ctx.out.exitCode(completionRun(shell, command.parent!, ctx));
    });

/** `nbatch __complete <kind> [word]`: for the completion scripts, the values they cannot know (values.ts). */
export const completeValuesCommand: CommandDefinition = (ctx) =>
  new Command("__complete")
    .description("values for shell completion: recent job ids, a setting's values")
    .addArgument(new Argument("<kind>").choices(["jobs", "setting-values"]))
    .argument("[word]", "the word before the one completed")
    .action(async (kind: Dynamic, word: string | undefined) => {
      const { completeValuesRun } = await import("./run.js");
      ctx.out.exitCode(await completeValuesRun(kind, word, ctx));
    });

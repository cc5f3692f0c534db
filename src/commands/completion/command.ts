import { Argument, Command } from "commander";
import type { CommandDefinition } from "../context.js";

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

import { Command } from "commander";
import type { CommandDefinition } from "../context.js";

export const agentCommand: CommandDefinition = (ctx) =>
  new Command("agent")
    .description("The job side: unpack inputs, run <command>, upload results (runs inside the Batch job)")
    .argument("<command...>", "the command to run (after --)")
    .addHelpText("after", "\nExample (what nbatch build submits):\n  nbatch agent -- make all")
    .action(async (command: string[]) => {
      const { agentRun } = await import("./run.js");
      ctx.out.exitCode(await agentRun(command, ctx));
    });

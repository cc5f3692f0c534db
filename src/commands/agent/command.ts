import { Command } from "commander";
import type { CommandDefinition } from "../context.js";

export const agentCommand: CommandDefinition = (ctx) =>
  new Command("agent")
    .description("The job side: unpack inputs, run <command>, upload results (runs inside the Batch job)")
    .argument("<command...>", "the command to run (after --)")
    .option("--workdir <subdir>", "run the command in this subdirectory of the inputs; results are still those of the whole tree")
    .addHelpText("after", "\nExamples (what nbatch build submits):\n  nbatch agent -- make all\n  nbatch agent --workdir pathogen -- snakemake")
    .action(async (command: string[], flags: { workdir?: string }) => {
      const { agentRun } = await import("./run.js");
      ctx.out.exitCode(await agentRun(command, flags, ctx));
    });

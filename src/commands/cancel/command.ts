import { Command } from "commander";
import { addJobLookupOptions } from "../aws-options.js";
import type { CommandDefinition } from "../context.js";

export const cancelCommand: CommandDefinition = (ctx) =>
  addJobLookupOptions(new Command("cancel"))
    .description("Cancel a job that has not started, or stop one that is running (Batch TerminateJob)")
    .argument("<job-id>", "a Batch job id, or an nbatch run id from the run history")
    .option("--wait", "wait until the job has stopped, and print how it ended")
    .addHelpText(
      "after",
      `
A stopped job still uploads the files its command made so far; bring them
home with nbatch build --attach <job-id> <dir>.

Examples:
  nbatch cancel 5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44
  nbatch cancel --wait 5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44`,
    )
    .action(async (id: string, flags) => {
      const { cancelRun } = await import("./run.js");
      ctx.out.exitCode(await cancelRun(id, flags, ctx));
    });

import { Command } from "commander";
import { addJobLookupOptions } from "../aws-options.js";
import type { CommandDefinition } from "../context.js";

export const logsCommand: CommandDefinition = (ctx) =>
  addJobLookupOptions(new Command("logs"))
    .description("Print a job's log, every attempt of it; --follow keeps tailing until the job ends")
    .argument("<job-id>", "a Batch job id, or an nbatch run id from the run history")
    .option("-f, --follow", "keep printing new lines until the job has ended")
    .addHelpText(
      "after",
      `
Log lines go to stdout as [batch] [<local time>] <line>; status goes to stderr.

Examples:
  nbatch logs 5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44
  nbatch logs --follow 5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44
  nbatch logs 5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44 | grep -i error`,
    )
    .action(async (id: string, flags) => {
      const { logsRun } = await import("./run.js");
      ctx.out.exitCode(await logsRun(id, flags, ctx));
    });

import { Command } from "commander";
import { addJobLookupOptions } from "../aws-options.js";
import type { CommandDefinition } from "../context.js";

export const statusCommand: CommandDefinition = (ctx) =>
  addJobLookupOptions(new Command("status"))
    .description("Show the live status of jobs (default: your 20 most recent runs)")
    .argument("[job-id...]", "Batch job ids, or nbatch run ids from the run history")
    .option("--json", "print one JSON object per job on stdout")
    .addHelpText(
      "after",
      `
Examples:
  nbatch status                                  # your recent runs
  nbatch status 5e0b3c1a-7f2d-4c1e-9a51-0d6f2b7e8c44
  nbatch status --json $(cat job-ids.txt) | jq -r 'select(.status == "FAILED") | .jobId'`,
    )
    .action(async (ids: string[], flags) => {
      const { statusRun } = await import("./run.js");
      ctx.out.exitCode(await statusRun(ids, flags, ctx));
    });

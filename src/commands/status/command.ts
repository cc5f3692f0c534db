import { Command } from "commander";
import type { CommandDefinition } from "../context.js";

export const statusCommand: CommandDefinition = (ctx) =>
  new Command("status")
    .description("Show the live status of jobs (default: your 20 most recent runs)")
    .argument("[job-id...]", "Batch job ids, or nbatch run ids from the run history")
    .option("--json", "print one JSON object per job on stdout")
    .option("--aws-region <region>", "AWS region (default: the region each run was submitted to, else AWS_REGION, ...)")
    .option("--aws-profile <profile>", "AWS profile for credentials (default: AWS_PROFILE)")
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
      ctx.setExit(await statusRun(ids, flags, ctx));
    });

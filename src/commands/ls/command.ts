import { Command } from "commander";
import { addJobLookupOptions } from "../aws-options.js";
import type { CommandDefinition } from "../context.js";

export const lsCommand: CommandDefinition = (ctx) =>
  addJobLookupOptions(new Command("ls"))
    .description("List your recent runs from the local run history, newest first, with each job's live status")
    .option("-n, --limit <n>", "how many runs to list", "20")
    .option("--json", "print one JSON object per run on stdout")
    .addHelpText(
      "after",
      `
The history lives in $XDG_STATE_HOME/nbatch/history.jsonl (default
~/.local/state/nbatch/history.jsonl). A run stays listed after Batch has
forgotten its job; its results can still be downloaded with --attach.

Examples:
  nbatch ls
  nbatch ls --limit 100
  nbatch ls --json | jq -r 'select(.status == "RUNNING") | .jobId'`,
    )
    .action(async (flags) => {
      const { lsRun } = await import("./run.js");
      ctx.out.exitCode(await lsRun(flags, ctx));
    });

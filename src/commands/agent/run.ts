import { S3Client } from "@aws-sdk/client-s3";
import { createAwsClients } from "../../aws/clients.js";
import { resolveSettings } from "../../config/resolve.js";
import { UsageError } from "../../errors.js";
import { holdHeap } from "../../heap.js";
import { runAgent } from "../../agent/run.js";
import { createStore } from "../../agent/store.js";
import type { CommandContext } from "../context.js";

/** `nbatch agent -- <command>`: the job side, run inside the Batch job. */
export async function agentRun(command: string[], flags: { workdir?: string }, ctx: CommandContext): Promise<number> {
  if (!command.length) throw new UsageError("nbatch agent needs a command: nbatch agent -- <command> [args...]");
  holdHeap();
  const settings = resolveSettings({ flags: {}, env: ctx.env });
  const clients = createAwsClients(settings.aws);
  try {
    return await runAgent({
      command,
      cwd: ctx.cwd,
      workdir: flags.workdir,
      env: ctx.env,
      store: createStore((): S3Client => clients.s3),
      out: ctx.out,
      signals: ctx.signals,
    });
  } finally {
    clients.destroy();
  }
}

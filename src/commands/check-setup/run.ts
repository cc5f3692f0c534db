import { randomUUID } from "node:crypto";
import { createAwsClients } from "../../aws/clients.js";
import { describeAws } from "../../config/aws.js";
import { resolveSettings } from "../../config/resolve.js";
import { check } from "../../setup/check.js";
import { exitCodeOf, runChecks } from "../../setup/checks.js";
import { checkNode } from "../../setup/checks-node.js";
import { jsonReport, printReport } from "../../setup/report.js";
import { awsSettingsInput, type AwsFlags } from "../aws-options.js";
import { defaultShare } from "../../job/preflight.js";
import { parseResources } from "../build/parse.js";
import type { CommandContext } from "../context.js";

export interface CheckSetupFlags extends AwsFlags {
  awsBatch?: boolean;
  json?: boolean;
  gpus?: string;
  arch?: string;
}

/** `nbatch check-setup`: exit 1 when a required check failed. */
export async function checkSetupRun(flags: CheckSetupFlags, ctx: CommandContext): Promise<number> {
  const settings = resolveSettings({ ...awsSettingsInput(flags, ctx.env), runner: flags.awsBatch ? "aws-batch" : undefined });
  if (settings.values.runner === "local") {
    const results = [checkNode(), check("runner", "runner", "ok", "local: jobs run on this machine, which needs no setup; pass --aws-batch to check the AWS Batch setup")];
    if (flags.json) ctx.out.out(jsonReport("local", undefined, results));
    else printReport(ctx.out, "Checking the setup of the local runner", results);
    return 0;
  }
  ctx.out.detail(describeAws(settings.aws));
  const clients = createAwsClients(settings.aws);
  try {
    const { gpus, arch } = parseResources(flags);
    const share = settings.values.share ?? defaultShare(ctx.env);
    const results = [checkNode(), ...(await runChecks({ settings, clients, probeId: randomUUID(), share, asks: { gpus, arch } }))];
    if (flags.json) ctx.out.out(jsonReport("aws-batch", settings.aws.region, results));
    else printReport(ctx.out, `Checking the AWS Batch setup in ${settings.aws.region}`, results);
    return exitCodeOf(results);
  } finally {
    clients.destroy();
  }
}

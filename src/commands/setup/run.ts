import { readFile } from "node:fs/promises";
import { resolveSettings, requireBucket } from "../../config/resolve.js";
import { UsageError } from "../../errors.js";
import { DEFAULT_NAMES, POLICIES, policyText } from "../../setup/policies.js";
import { awsSettingsInput, type AwsFlags } from "../aws-options.js";
import type { CommandContext } from "../context.js";

export interface SetupAwsBatchFlags extends AwsFlags {
  printPolicies?: boolean;
  printTemplate?: boolean;
  policy?: "user" | "job-role" | "secrets";
  logGroup: string;
}

/** The template ships in the package's docs/, two levels above this file in both src/ and dist/. */
const TEMPLATE_URL = new URL("../../../docs/cloudformation.yaml", import.meta.url);

/** `nbatch setup aws-batch`: prints what an administrator needs; creates nothing. */
export async function setupAwsBatchRun(flags: SetupAwsBatchFlags, ctx: CommandContext): Promise<number> {
  if (flags.printTemplate) {
    if (flags.printPolicies) throw new UsageError("--print-template and --print-policies conflict: choose one");
    ctx.out.document(await readFile(TEMPLATE_URL, "utf8"));
    return 0;
  }
  if (!flags.printPolicies) {
    throw new UsageError("nbatch setup aws-batch needs --print-policies or --print-template; the step-by-step guide is docs/aws-setup.md");
  }
  const settings = resolveSettings(awsSettingsInput(flags, ctx.env));
  const names = {
    ...DEFAULT_NAMES,
    bucket: requireBucket(settings),
    queue: settings.values.queue,
    job: settings.values.job,
    logGroup: flags.logGroup,
    region: "*",
    account: "*",
  };
  const chosen = POLICIES.filter((p) => !flags.policy || p.file === `${flags.policy}-policy.json`);
  ctx.out.document(
    chosen.map((p) => (flags.policy ? "" : `# ${p.file}: ${p.purpose}\n`) + policyText(p.build(names))).join("\n"),
  );
  return 0;
}

import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { describeAws } from "../../config/aws.js";
import { resolveSettings } from "../../config/resolve.js";
import type { Settings } from "../../config/settings.js";
import { UserError } from "../../errors.js";
import type { BuildRequest, FollowPrefs } from "../../job/request.js";
import { shellQuote } from "../../ui/format.js";
import type { BatchContext } from "../../job/context.js";
import { awsSettingsInput } from "../aws-options.js";
import type { CommandContext } from "../context.js";
import { checkFlags, type BuildFlags } from "./flags.js";
import { parseResources, parseRetries, parseSecrets, parseTags, parseTimeout, parseWhole, resolveEnv } from "./parse.js";
import { parseRetryOn } from "../../job/retries.js";

export type { BuildFlags };

export async function buildRun(dirArg: string | undefined, command: string[], flags: BuildFlags, ctx: CommandContext): Promise<number> {
  if (flags.json) ctx.out.useJson();
  const settings = resolveSettings({
    ...awsSettingsInput(flags, ctx.env),
    runner: flags.awsBatch || flags.attach ? "aws-batch" : flags.local ? "local" : undefined,
  });
  checkFlags(flags, dirArg, command, settings.values.runner);
  const dir = dirArg === undefined ? undefined : await checkDirectory(ctx.cwd, dirArg);
  const follow: FollowPrefs = {
    detach: Boolean(flags.detach),
    detachOnInterrupt: Boolean(flags.detachOnInterrupt),
    logs: flags.logs,
    download: flags.download !== false,
    attachFlags: [
      ...(flags.awsRegion ? ["--aws-region", shellQuote(flags.awsRegion)] : []),
      ...(flags.awsProfile ? ["--aws-profile", shellQuote(flags.awsProfile)] : []),
    ],
  };
  if (flags.attach) {
    return withAws(ctx, settings, async (deps) => {
      const { runAttach } = await import("../../runners/aws-batch/attach.js");
      return runAttach({ jobId: flags.attach!, dir, cancel: Boolean(flags.cancel), download: downloadPatterns(flags), excludeFromDownload: flags.excludeFromDownload, follow }, deps);
    });
  }
  const req: BuildRequest = {
    dir: dir!,
    command,
    env: resolveEnv(flags.env, ctx.env),
    image: flags.image,
    secrets: parseSecrets(flags.secret),
    excludeFromUpload: flags.excludeFromUpload,
    download: downloadPatterns(flags),
    excludeFromDownload: flags.excludeFromDownload,
    retries: flags.retries === undefined ? undefined : parseRetries(flags.retries),
    retryOn: parseRetryOn(flags.retryOn),
    resume: Boolean(flags.resume),
    priority: flags.priority === undefined ? undefined : parseWhole(flags.priority, "--priority", 0, 9999, "use a whole number from 0 to 9999"),
    resources: parseResources(flags),
    timeoutSeconds: flags.timeout === undefined ? undefined : parseTimeout(flags.timeout),
    tags: parseTags(flags.tag),
    dryRun: Boolean(flags.dryRun),
    follow,
  };
  if (settings.values.runner === "local") {
    const { runLocal } = await import("../../runners/local.js");
    return runLocal(req, { ...ctx, maxResultsBytes: settings.values.maxResultsBytes });
  }
  return withAws(ctx, settings, async (deps) => {
    const { runAwsBatch } = await import("../../runners/aws-batch/run.js");
    return runAwsBatch(req, deps);
  });
}

/** Loads the AWS side only when needed, and closes its sockets after. */
async function withAws<T>(ctx: CommandContext, settings: Settings, fn: (deps: BatchContext) => Promise<T>): Promise<T> {
  const { createAwsClients } = await import("../../aws/clients.js");
  ctx.out.detail(describeAws(settings.aws));
  const clients = createAwsClients(settings.aws);
  try {
    return await fn({ ...ctx, settings, clients });
  } finally {
    clients.destroy();
  }
}

/** commander's --no-download makes `download` false; otherwise it holds the --download patterns. */
function downloadPatterns(flags: BuildFlags): string[] {
  return Array.isArray(flags.download) ? flags.download : [];
}

async function checkDirectory(cwd: string, dir: string): Promise<string> {
  const path = resolve(cwd, dir);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UserError(`${dir}: no such directory`);
  if (!info.isDirectory()) throw new UserError(`${dir} is not a directory: nbatch build runs over a directory`);
  return path;
}

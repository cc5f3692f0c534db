import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { resolveSettings } from "../../config/resolve.js";
import { UsageError, UserError } from "../../errors.js";
import type { BuildRequest } from "../../runners/request.js";
import type { CommandContext } from "../context.js";

/** The flags of `nbatch build`, as commander hands them over. */
export interface BuildFlags {
  awsBatch?: boolean;
  local?: boolean;
  awsBatchJob?: string;
  awsBatchQueue?: string;
  awsBatchS3Bucket?: string;
  awsBatchCpus?: string;
  awsBatchMemory?: string;
  agentCommand?: string;
  awsRegion?: string;
  awsProfile?: string;
  image?: string;
  env: string[];
  excludeFromUpload: string[];
  download: string[];
  excludeFromDownload: string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function buildRun(dir: string, command: string[], flags: BuildFlags, ctx: CommandContext): Promise<number> {
  if (flags.awsBatch && flags.local) throw new UsageError("--aws-batch and --local conflict: choose one");
  const settings = resolveSettings({
    flags: {
      "aws-batch.job": flags.awsBatchJob,
      "aws-batch.queue": flags.awsBatchQueue,
      "aws-batch.s3-bucket": flags.awsBatchS3Bucket,
      "aws-batch.cpus": flags.awsBatchCpus,
      "aws-batch.memory": flags.awsBatchMemory,
      "aws-batch.agent-command": flags.agentCommand,
    },
    runner: flags.awsBatch ? "aws-batch" : flags.local ? "local" : undefined,
    region: flags.awsRegion,
    profile: flags.awsProfile,
    env: ctx.env,
  });
  const req: BuildRequest = {
    dir: await checkDirectory(dir),
    command,
    env: resolveEnv(flags.env, ctx.env),
    image: flags.image,
    excludeFromUpload: flags.excludeFromUpload,
    download: flags.download,
    excludeFromDownload: flags.excludeFromDownload,
  };
  if (settings.runner === "local") {
    if (flags.image) throw new UsageError("--image needs --aws-batch: the local runner uses this machine");
    const { runLocal } = await import("../../runners/local.js");
    return runLocal(req, { io: ctx.io, env: ctx.env, signals: process });
  }
  const [{ runAwsBatch }, { createAwsClients }, { realClock }] = await Promise.all([
    import("../../runners/aws-batch/run.js"),
    import("../../aws/clients.js"),
    import("../../clock.js"),
  ]);
  const clients = createAwsClients(settings.aws);
  try {
    return await runAwsBatch(req, { settings, clients, io: ctx.io, clock: realClock, signals: process });
  } finally {
    clients.destroy();
  }
}

async function checkDirectory(dir: string): Promise<string> {
  const path = resolve(dir);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UserError(`${dir}: no such directory`);
  if (!info.isDirectory()) throw new UserError(`${dir} is not a directory: nbatch build runs over a directory`);
  return path;
}

/** --env NAME=VALUE, or NAME alone to pass this shell's value. */
function resolveEnv(specs: readonly string[], env: CommandContext["env"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (!ENV_NAME.test(name)) throw new UsageError(`--env ${spec}: "${name}" is not a valid variable name (letters, digits and _, not starting with a digit)`);
    const value = eq < 0 ? env[name] : spec.slice(eq + 1);
    if (value === undefined) throw new UserError(`--env ${name}: ${name} is not set in your environment; set it or pass --env ${name}=VALUE`);
    out[name] = value;
  }
  return out;
}

import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { describeAws } from "../../config/aws.js";
import { resolveSettings } from "../../config/resolve.js";
import type { Settings } from "../../config/settings.js";
import { SETTING_ROWS } from "../../config/table.js";
import { UserError } from "../../errors.js";
import type { BuildRequest, FollowPrefs } from "../../job/request.js";
import { printable, shellQuote } from "../../ui/format.js";
import type { BatchContext } from "../../job/context.js";
import { awsSettingsInput } from "../aws-options.js";
import type { CommandContext } from "../context.js";
import { readEnvDirs } from "./envdir.js";
import { checkFlags, type BuildFlags } from "./flags.js";
import { parseResources, parseRetries, parseSecrets, parseTags, parseTimeout, parseWhole, resolveEnv } from "./parse.js";
import { parseRetryOn } from "../../job/retries.js";
import { MAX_TASKS, type FanoutSpec } from "../../job/fanout/tasks.js";

export type { BuildFlags };

export async function buildRun(dirArg: string | undefined, command: string[], flags: BuildFlags, ctx: CommandContext): Promise<number> {
  if (flags.json) ctx.out.useJson();
  const settings = resolveSettings({
    ...awsSettingsInput(flags, ctx.env),
    runner: flags.awsBatch || flags.attach ? "aws-batch" : flags.local ? "local" : undefined,
    // The directory's own nbatch.ini; a missing directory is said below, after the flags are checked.
    projectDir: dirArg === undefined ? undefined : resolve(ctx.cwd, dirArg),
  });
  const values = settings.values;
  checkFlags(flags, dirArg, command, values.runner);
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
  const fanout = parseFanout(flags);
  if (flags.attach) {
    return withAws(ctx, settings, async (deps) => {
      const { runAttach } = await import("../../runners/aws-batch/attach.js");
      return runAttach({ jobId: flags.attach!, dir, cancel: Boolean(flags.cancel), download: values.download ?? [], excludeFromDownload: values.excludeFromDownload ?? [], follow, followChild: fanout?.follow ?? [] }, deps);
    });
  }
  if (flags.rerunFailed) {
    return withAws(ctx, settings, async (deps) => {
      const { runRerun } = await import("../../runners/aws-batch/rerun.js");
      const env = { ...(await readEnvDirs(flags.envdir, ctx.cwd)), ...resolveEnv(flags.env, ctx.env) };
      return runRerun({ id: flags.rerunFailed!, dir, env, download: values.download ?? [], excludeFromDownload: values.excludeFromDownload ?? [], follow, fanout: fanout! }, deps);
    });
  }
  const req: BuildRequest = {
    dir: dir!,
    command: command.length ? command : (values.command ?? []),
    workdir: values.workdir === "." ? undefined : values.workdir,
    env: { ...(await readEnvDirs(flags.envdir, ctx.cwd)), ...resolveEnv(flags.env, ctx.env) },
    image: values.image,
    secrets: parseSecrets(flags.secret),
    // Exclusions only add up, so no flag can make the upload take what the project keeps home.
    excludeFromUpload: [
      ...(values.excludeFromUpload ?? []).map((pattern) => ({ pattern, source: settingFrom(settings, "build.exclude-from-upload"), project: settings.origins["build.exclude-from-upload"] === "project" })),
      ...flags.excludeFromUpload,
    ],
    download: values.download ?? [],
    excludeFromDownload: values.excludeFromDownload ?? [],
    retries: flags.retries === undefined ? undefined : parseRetries(flags.retries),
    retryOn: parseRetryOn(flags.retryOn),
    resume: Boolean(flags.resume),
    priority: flags.priority === undefined ? undefined : parseWhole(flags.priority, "--priority", 0, 9999, "use a whole number from 0 to 9999"),
    resources: parseResources(flags),
    timeoutSeconds: flags.timeout === undefined ? undefined : parseTimeout(flags.timeout),
    tags: parseTags(flags.tag),
    dryRun: Boolean(flags.dryRun),
    follow,
    fanout,
  };
  if (settings.values.runner === "local") {
    const unchosen = unchosenRunnerNote(settings);
    if (unchosen) ctx.out.info(unchosen);
    const { runLocal } = await import("../../runners/local.js");
    return runLocal(req, { ...ctx, values: settings.values });
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

/** --array, --each, --array-parallel, --follow-child; undefined for a single job (checkFlags saw they go together). */
function parseFanout(flags: BuildFlags): FanoutSpec | undefined {
  if (!flags.array && !flags.each.length && !flags.rerunFailed && !flags.followChild.length) return undefined;
  return {
    ...(flags.array !== undefined ? { array: parseWhole(flags.array, "--array", 2, MAX_TASKS, `use a whole number of tasks from 2 to ${MAX_TASKS}`) } : {}),
    ...(flags.each.length ? { each: flags.each } : {}),
    ...(flags.arrayParallel !== undefined ? { parallel: parseWhole(flags.arrayParallel, "--array-parallel", 1, MAX_TASKS, "use a whole number of tasks, 1 or more") } : {}),
    follow: flags.followChild.map((i) => parseWhole(i, "--follow-child", 0, MAX_TASKS - 1, "use a task index, from 0")),
  };
}

/** Settings that name AWS resources: someone who set one means to use AWS Batch some of the time. */
const AWS_BATCH_NAMES = ["aws-batch.s3-bucket", "aws-batch.queue", "aws-batch.job"];

/** When AWS Batch is set up but no runner was chosen, the local run says so, and how to choose. */
function unchosenRunnerNote(settings: Settings): string | undefined {
  if (settings.origins["core.runner"] !== "default") return undefined;
  const name = AWS_BATCH_NAMES.find((n) => settings.origins[n] === "env" || settings.origins[n] === "file");
  if (!name) return undefined;
  return `Running on this machine: no runner was chosen, although AWS Batch is set up (${name} from ${settingFrom(settings, name)}). Add --aws-batch to run there, or make it the default: nbatch config set core.runner aws-batch`;
}

/** Where a setting without a flag came from, as people name it: "nbatch.ini", "~/.config/nbatch/config", "NBATCH_...". */
function settingFrom(settings: Settings, name: string): string {
  const origin = settings.origins[name];
  if (origin === "project") return basename(settings.projectFileShown!);
  return origin === "file" ? settings.configFileShown : SETTING_ROWS.find((r) => r.name === name)!.env[0]!;
}

async function checkDirectory(cwd: string, dir: string): Promise<string> {
  const path = resolve(cwd, dir);
  const info = await stat(path).catch(() => undefined);
  // Node decodes arguments as UTF-8: other bytes arrive as U+FFFD, a name that is not on disk.
  if (!info && path.includes("\uFFFD")) throw new UserError(`${printable(dir)}: its name is not valid UTF-8, which nbatch cannot open: rename the directory`);
  if (!info) throw new UserError(`${dir}: no such directory`);
  if (!info.isDirectory()) throw new UserError(`${dir} is not a directory: nbatch build runs over a directory`);
  return path;
}

/**
 * The settings resolver: flag > NBATCH_* environment variable > the
 * project's nbatch.ini > the user's config file > default, once, at start.
 * Nothing else reads process.env or the files.
 */
import { UserError, UsageError } from "../errors.js";
import { resolveAws } from "./aws.js";
import { configPath, displayPath, envValue, readConfigFile, type ConfigFile, type Env } from "./file.js";
import { projectFilePath, readProjectFile } from "./project.js";
import type { BucketLocation, Origin, Runner, Settings } from "./settings.js";
import { SETTINGS, SETTING_ROWS, type SettingKey, type SettingRow, type SettingValues } from "./table.js";
import { InvalidValueError } from "./units.js";

export interface ResolveInput {
  /** Flag values keyed by ini name, e.g. {"aws-batch.queue": "q"}. */
  flags: Partial<Record<string, string | undefined>>;
  /** From --aws-batch / --local. */
  runner?: Runner;
  /** From --aws-region / --aws-profile. */
  region?: string;
  profile?: string;
  env: Env;
  /** The directory whose project file (nbatch.ini) applies; none without it. */
  projectDir?: string;
}

/** A settings file as the resolver reads it, in the order of precedence. */
export interface SettingsFile {
  origin: "project" | "file";
  shown: string;
  values: ConfigFile | undefined;
}

export interface Source {
  origin: Origin;
  text: string;
  /** Where the text came from, for error messages. */
  from: string;
  /** The file it was read from, as people write it. */
  file?: string;
}

export function resolveSettings(input: ResolveInput): Settings {
  for (const name of Object.keys(input.flags)) {
    if (!SETTING_ROWS.some((row) => row.name === name)) throw new Error(`resolveSettings: unknown setting ${name}`);
  }
  const flags = { ...input.flags, [SETTINGS.runner.name]: input.runner };
  const path = configPath(input.env);
  const files = settingsFiles(input.env, input.projectDir);
  const origins: Record<string, Origin> = {};

  const values = {} as Record<string, unknown>;
  for (const [key, row] of Object.entries(SETTINGS) as [SettingKey, SettingRow][]) {
    const source = findSource(row, flags[row.name], input.env, files);
    origins[row.name] = source?.origin ?? "default";
    values[key] = source && parseFrom(row, source);
  }
  const v = values as SettingValues;
  const project = files.find((f) => f.origin === "project" && f.values);
  return {
    ...(project ? { projectFileShown: project.shown } : {}),
    values: v,
    aws: { ...resolveAws({ env: input.env, region: input.region, profile: input.profile }), s3: { expectedBucketOwner: v.s3BucketOwner, sse: v.sse, sseKmsKeyId: v.sseKmsKeyId } },
    configFile: path,
    configFileShown: displayPath(path, input.env),
    debug: isTruthy(envValue(input.env, "NBATCH_DEBUG")),
    origins,
  };
}

/** The project's file, when there is a project, then the user's, each read and checked. */
export function settingsFiles(env: Env, projectDir: string | undefined): SettingsFile[] {
  const path = configPath(env);
  const shown = displayPath(path, env);
  const user: SettingsFile = { origin: "file", shown, values: readConfigFile(path, env) };
  if (projectDir === undefined) return [user];
  const project = readProjectFile(projectDir, env, shown);
  return [{ origin: "project", shown: project?.shown ?? displayPath(projectFilePath(projectDir), env), values: project?.values }, user];
}

/** Where a setting's text comes from, by precedence; undefined when it is unset with no default. */
export function findSource(row: SettingRow, flag: string | undefined, env: Env, files: readonly SettingsFile[]): Source | undefined {
  if (flag !== undefined) return { origin: "flag", text: flag, from: row.flag ?? row.name };
  for (const name of row.env) {
    const value = envValue(env, name);
    if (value !== undefined) return { origin: "env", text: value, from: name };
  }
  for (const file of files) {
    const text = file.values?.[row.section]?.[row.key];
    if (text !== undefined && text !== "") return { origin: file.origin, text, from: `[${row.section}] ${row.key} in ${file.shown}`, file: file.shown };
  }
  return row.default === undefined ? undefined : { origin: "default", text: row.default, from: "default" };
}

/** A bad flag is a usage error; a bad environment or file value is the user's setup. */
function parseFrom<T>(row: SettingRow<T>, source: Source): T {
  try {
    return row.parse(source.text);
  } catch (err) {
    if (!(err instanceof InvalidValueError)) throw err;
    const message = `invalid ${err.what} ${JSON.stringify(err.value)} (from ${source.from}): ${err.hint}`;
    throw source.origin === "flag" ? new UsageError(message) : new UserError(message);
  }
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && !["0", "false", "no", "off"].includes(value.toLowerCase());
}

/** The bucket, or the error that says the three ways to set one. */
export function requireBucket(settings: Settings): BucketLocation {
  const bucket = settings.values.s3Bucket;
  if (bucket) return bucket;
  throw new UserError(
    "no S3 bucket configured: pass --aws-batch-s3-bucket, set NBATCH_AWS_BATCH_S3_BUCKET, " +
      `or add "s3-bucket = s3://your-bucket/prefix" under [aws-batch] in ${settings.configFileShown}`,
  );
}

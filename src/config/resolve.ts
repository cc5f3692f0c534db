/**
 * The settings resolver: flag > NBATCH_* environment variable > ini file >
 * default, once, at start. Nothing else reads process.env or the file.
 */
import { UserError, UsageError } from "../errors.js";
import { resolveAws } from "./aws.js";
import { configPath, displayPath, envValue, readConfigFile, type ConfigFile, type Env } from "./file.js";
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
}

export interface Source {
  origin: Origin;
  text: string;
  /** Where the text came from, for error messages. */
  from: string;
}

export function resolveSettings(input: ResolveInput): Settings {
  for (const name of Object.keys(input.flags)) {
    if (!SETTING_ROWS.some((row) => row.name === name)) throw new Error(`resolveSettings: unknown setting ${name}`);
  }
  const flags = { ...input.flags, [SETTINGS.runner.name]: input.runner };
  const path = configPath(input.env);
  const file = readConfigFile(path, input.env);
  const origins: Record<string, Origin> = {};

  const values = {} as Record<string, unknown>;
  for (const [key, row] of Object.entries(SETTINGS) as [SettingKey, SettingRow][]) {
    const source = findSource(row, flags[row.name], input.env, file, displayPath(path, input.env));
    origins[row.name] = source?.origin ?? "default";
    values[key] = source && parseFrom(row, source);
  }
  const v = values as SettingValues;
  return {
    values: v,
    aws: { ...resolveAws({ env: input.env, region: input.region, profile: input.profile }), s3: { expectedBucketOwner: v.s3BucketOwner, sse: v.sse, sseKmsKeyId: v.sseKmsKeyId } },
    configFile: path,
    configFileShown: displayPath(path, input.env),
    debug: isTruthy(envValue(input.env, "NBATCH_DEBUG")),
    origins,
  };
}

/** Where a setting's text comes from, by precedence; undefined when it is unset with no default. */
export function findSource(
  row: SettingRow,
  flag: string | undefined,
  env: Env,
  file: ConfigFile | undefined,
  shownPath: string,
): Source | undefined {
  if (flag !== undefined) return { origin: "flag", text: flag, from: row.flag ?? row.name };
  for (const name of row.env) {
    const value = envValue(env, name);
    if (value !== undefined) return { origin: "env", text: value, from: name };
  }
  const fromFile = file?.[row.section]?.[row.key];
  if (fromFile !== undefined && fromFile !== "") {
    return { origin: "file", text: fromFile, from: `[${row.section}] ${row.key} in ${shownPath}` };
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

import { configPath, displayPath, readConfigFile } from "../../config/file.js";
import { resolve } from "node:path";
import { findSource, resolveSettings, settingsFiles, type Source } from "../../config/resolve.js";
import type { Settings } from "../../config/settings.js";
import { SETTING_ROWS, type SettingRow } from "../../config/table.js";
import { UsageError, UserError } from "../../errors.js";
import { InvalidValueError } from "../../config/units.js";
import { awsSettingsInput, type AwsFlags } from "../aws-options.js";
import type { CommandContext } from "../context.js";
import { setKey, unsetKey } from "../../config/ini-edit.js";
import { readText, writeAtomically } from "./write.js";

export interface ConfigListFlags extends AwsFlags {
  showOrigin?: boolean;
}

function rowFor(key: string): SettingRow<unknown> {
  const row = SETTING_ROWS.find((r) => r.name === key);
  if (!row) throw new UsageError(`unknown setting "${key}": use one of ${SETTING_ROWS.map((r) => r.name).join(", ")}`);
  return row;
}

function originLabel(source: Source | undefined): string {
  if (!source) return "unset";
  if (source.file) return `${source.origin} ${source.file}`;
  return source.origin === "default" ? "default" : `${source.origin} ${source.from}`;
}

/** One line of `config list`: a setting, its value if it has one, and where it comes from. */
interface Listed {
  name: string;
  value?: string;
  origin: string;
  /** Said instead of a value: what applies without one. */
  unsetNote: string;
}

/** `nbatch config list`: every effective value, and with --show-origin where it came from. */
export async function configList(dir: string | undefined, flags: ConfigListFlags, ctx: CommandContext): Promise<number> {
  const input = { ...awsSettingsInput(flags, ctx.env), projectDir: resolve(ctx.cwd, dir ?? ".") };
  // Resolving first reports an invalid value, with where it came from, before anything is listed.
  const settings = resolveSettings(input);
  const files = settingsFiles(ctx.env, input.projectDir);
  const listed: Listed[] = SETTING_ROWS.map((row) => {
    const source = findSource(row, input.flags[row.name], ctx.env, files);
    return { name: row.name, value: source?.text, origin: originLabel(source), unsetNote: row.defaultNote ?? "no default" };
  });
  listed.push(...awsListed(settings.aws, flags));
  if (!flags.showOrigin) {
    for (const l of listed) if (l.value !== undefined) ctx.out.out(`${l.name}=${l.value}`);
    return 0;
  }
  const width = Math.max(...listed.map((l) => l.origin.length)) + 2;
  for (const l of listed) ctx.out.out(l.origin.padEnd(width) + (l.value !== undefined ? `${l.name}=${l.value}` : `${l.name} (not set: ${l.unsetNote})`));
  return 0;
}

/** The region and profile every AWS call uses: they follow the AWS settings (config/aws.ts), not nbatch's file. */
function awsListed(aws: Settings["aws"], flags: AwsFlags): Listed[] {
  const from = aws.regionFrom;
  const regionOrigin = !from ? "default" : from.startsWith("--") ? `flag ${from}` : from.startsWith("AWS_") ? `env ${from}` : from;
  const profileOrigin = !aws.profile ? "unset" : flags.awsProfile ? "flag --aws-profile" : "env AWS_PROFILE";
  return [
    { name: "aws.region", value: aws.region, origin: regionOrigin, unsetNote: "" },
    { name: "aws.profile", value: aws.profile, origin: profileOrigin, unsetNote: "the default profile, or the SDK's credential chain" },
  ];
}

/** `nbatch config get KEY`: the effective value; exit 1 when it is unset. */
export async function configGet(key: string, ctx: CommandContext): Promise<number> {
  const row = rowFor(key);
  const source = findSource(row, undefined, ctx.env, settingsFiles(ctx.env, ctx.cwd));
  if (!source) {
    ctx.out.info(`${key} is not set (without it: ${row.defaultNote ?? "no default"})`);
    return 1;
  }
  try {
    row.parse(source.text);
  } catch (err) {
    if (!(err instanceof InvalidValueError)) throw err;
    throw new UserError(`invalid ${err.what} ${JSON.stringify(err.value)} (from ${source.from}): ${err.hint}`);
  }
  ctx.out.out(source.text);
  return 0;
}

/** `nbatch config set KEY VALUE`: validated, then written into the config file. */
export async function configSet(key: string, value: string, ctx: CommandContext): Promise<number> {
  const row = rowFor(key);
  // The file holds one key per line: a line break would write a second, broken line.
  if (/[\r\n\0]/.test(value)) throw new UsageError(`the value for ${key} holds a line break or NUL byte, which a config file line cannot: give it on one line`);
  row.parse(value);
  const path = configPath(ctx.env);
  readConfigFile(path, ctx.env);
  await writeAtomically(path, setKey(await readText(path), row.section, row.key, value.trim()));
  ctx.out.info(`Set ${key} = ${value.trim()} in ${displayPath(path, ctx.env)}`);
  warnIfOverridden(row, ctx);
  return 0;
}

/** `nbatch config unset KEY`: removes the key from the config file; unsetting an absent key is not an error. */
export async function configUnset(key: string, ctx: CommandContext): Promise<number> {
  const row = rowFor(key);
  const path = configPath(ctx.env);
  const shown = displayPath(path, ctx.env);
  const edited = unsetKey(await readText(path), row.section, row.key);
  if (edited === undefined) {
    ctx.out.info(`${key} is not set in ${shown}; nothing to do`);
    return 0;
  }
  await writeAtomically(path, edited);
  ctx.out.info(`Removed ${key} from ${shown}`);
  warnIfOverridden(row, ctx);
  return 0;
}

function warnIfOverridden(row: SettingRow<unknown>, ctx: CommandContext): void {
  const name = row.env.find((n) => ctx.env[n]);
  if (name) ctx.out.warn(`${name} is set in your environment and takes precedence over the config file`);
}

/**
 * The setting flags, made from the settings table so every command that
 * takes them spells them, and hands them to the resolver, the same way.
 */
import { Option, type Command } from "commander";
import type { ResolveInput } from "../config/resolve.js";
import { SETTING_ROWS } from "../config/table.js";
import { offerChoices } from "./completion/values.js";
import { collect } from "./context.js";

const PLACEHOLDER: Record<string, string> = {
  "aws-batch.job": "name",
  "aws-batch.queue": "name",
  "aws-batch.s3-bucket": "bucket[/prefix]",
  "aws-batch.cpus": "n",
  "aws-batch.memory": "size",
  "aws-batch.agent-command": "command",
  "aws-batch.s3-bucket-owner": "account-id",
  "aws-batch.sse": "encryption",
  "aws-batch.sse-kms-key-id": "key",
  "aws-batch.share": "share",
  "core.max-results-size": "size",
  "aws-batch.image": "image",
  "build.workdir": "subdir",
  "build.download": "pattern",
  "build.exclude-from-download": "pattern",
};

const FLAG_ROWS = SETTING_ROWS.filter((row) => row.flag !== undefined);

/** Commander's camelCase name of each setting flag ("--aws-batch-queue" is awsBatchQueue). */
const attribute = (flag: string) => new Option(flag).attributeName();

export interface AwsFlags {
  awsRegion?: string;
  awsProfile?: string;
}

/** Adds the flags of the settings named (all that have one, without a list). */
export function addSettingOptions(command: Command, only?: readonly string[]): Command {
  for (const row of FLAG_ROWS.filter((r) => !only || only.includes(r.name))) {
    const fallback = row.default ?? row.defaultNote;
    const flag = `${row.flag} <${PLACEHOLDER[row.name] ?? "value"}>`;
    const description = (row.list ? `${row.description} (repeatable)` : row.description) + (fallback ? ` (default: ${fallback})` : "");
    const option = new Option(flag, description);
    if (row.list) option.argParser(collect).default([]);
    command.addOption(row.choices ? offerChoices(option, row.choices) : option);
  }
  return command;
}

/** Adds the setting flags plus --aws-region and --aws-profile, for commands that call AWS. */
export function addAwsOptions(command: Command, only?: readonly string[]): Command {
  return addSettingOptions(command, only)
    .option("--aws-region <region>", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1)")
    .option("--aws-profile <profile>", "AWS profile for credentials (default: AWS_PROFILE)");
}

/**
 * --aws-region and --aws-profile for the job commands (status, logs, cancel,
 * ls), whose defaults are those the run was submitted with, from the history.
 */
export function addJobLookupOptions(command: Command): Command {
  return command
    .option("--aws-region <region>", "look the jobs up in this region (default: the region each run was submitted to, else AWS_REGION, ...)")
    .option("--aws-profile <profile>", "AWS profile for credentials (default: the profile each run was submitted with, else AWS_PROFILE)");
}

/** The resolver's input for these flags. */
export function awsSettingsInput(flags: AwsFlags, env: ResolveInput["env"]): ResolveInput {
  const settingFlags: ResolveInput["flags"] = {};
  for (const row of FLAG_ROWS) {
    const value = (flags as Record<string, unknown>)[attribute(row.flag!)];
    if (typeof value === "string") settingFlags[row.name] = value;
    // A repeated flag's values go to the resolver as the JSON list the setting's parser reads.
    else if (Array.isArray(value) && value.length) settingFlags[row.name] = JSON.stringify(value);
  }
  return { flags: settingFlags, region: flags.awsRegion, profile: flags.awsProfile, env };
}

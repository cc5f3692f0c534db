import { Argument, Command, Help } from "commander";
import { helpColumns, helpConfiguration } from "../../ui/help.js";
import { completeWith } from "../completion/values.js";
import { SETTING_ROWS } from "../../config/table.js";
import { addAwsOptions } from "../aws-options.js";
import type { CommandContext, CommandDefinition } from "../context.js";

/** Choices, so commander rejects a typo and shell completion offers the names. */
const keyArgument = (example: string) => new Argument("<key>", `the setting, e.g. ${example}`).choices(SETTING_ROWS.map((row) => row.name));
const NAME_WIDTH = Math.max(...SETTING_ROWS.map((row) => row.name.length));
/** The settings as the help lists its options: wrapped to the width help is laid out at. */
const settingsHelp = (ctx: CommandContext) => {
  const help = Object.assign(new Help(), helpConfiguration(helpColumns(ctx.env, ctx.out.columns)));
  return SETTING_ROWS.map((row) => help.formatItem(row.name, NAME_WIDTH, row.description, help)).join("\n");
};

export const configCommand: CommandDefinition = (ctx) =>
  new Command("config")
    .description("Show and change settings in the config file")
    .addHelpText(
      "after",
      `
Settings:
${settingsHelp(ctx)}

Examples:
  nbatch config set aws-batch.s3-bucket s3://my-lab-nbatch/jobs
  nbatch config list --show-origin
  nbatch config get aws-batch.queue
  nbatch config unset aws-batch.memory`,
    )
    .addCommand(listCommand(ctx))
    .addCommand(getCommand(ctx))
    .addCommand(setCommand(ctx))
    .addCommand(unsetCommand(ctx));

const listCommand = (ctx: CommandContext) =>
  addAwsOptions(
    new Command("list")
      .description("Print every setting that has a value: flag > NBATCH_* environment variable > the project's nbatch.ini > config file > default")
      .argument("[dir]", "the project directory whose nbatch.ini applies (default: the current directory)")
      .option("--show-origin", "also show where each value comes from, and the settings that are unset"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  nbatch config list\n  nbatch config list --show-origin\n  nbatch config list --show-origin ./wf\n  nbatch config list --show-origin --aws-batch-queue other-queue",
    )
    .action(async (dir: string | undefined, flags) => {
      const { configList } = await import("./run.js");
      ctx.out.exitCode(await configList(dir, flags, ctx));
    });

const getCommand = (ctx: CommandContext) =>
  new Command("get")
    .description("Print a setting's effective value, the current directory's nbatch.ini included (exit status 1 when it is unset)")
    .addArgument(keyArgument("aws-batch.queue"))
    .addHelpText("after", '\nExamples:\n  nbatch config get aws-batch.s3-bucket\n  bucket=$(nbatch config get aws-batch.s3-bucket) || echo "no bucket set"')
    .action(async (key: string) => {
      const { configGet } = await import("./run.js");
      ctx.out.exitCode(await configGet(key, ctx));
    });

const setCommand = (ctx: CommandContext) =>
  new Command("set")
    .description("Set a setting in the config file, keeping its other lines and comments")
    .addArgument(keyArgument("aws-batch.queue"))
    .addArgument(completeWith(new Argument("<value>", "its value; checked before the file is written"), "setting-values"))
    .addHelpText("after", "\nExamples:\n  nbatch config set core.runner aws-batch\n  nbatch config set aws-batch.memory 15GiB")
    .action(async (key: string, value: string) => {
      const { configSet } = await import("./run.js");
      ctx.out.exitCode(await configSet(key, value, ctx));
    });

const unsetCommand = (ctx: CommandContext) =>
  new Command("unset")
    .description("Remove a setting from the config file")
    .addArgument(keyArgument("aws-batch.cpus"))
    .addHelpText("after", "\nExample:\n  nbatch config unset aws-batch.cpus")
    .action(async (key: string) => {
      const { configUnset } = await import("./run.js");
      ctx.out.exitCode(await configUnset(key, ctx));
    });

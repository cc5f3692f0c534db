/**
 * The command tree as the completion scripts need it, read from commander's
 * own objects: a new command, flag or choice appears in every shell's
 * completion without touching the generators.
 */
import type { Command } from "commander";
import { isListed } from "../context.js";
import { dynamicOf, offeredChoices, type Dynamic } from "./values.js";

export interface OptionSpec {
  /** "--aws-batch-queue", "-V". */
  names: string[];
  description: string;
  takesValue: boolean;
  choices?: readonly string[];
  /** Values the script asks nbatch for while completing (values.ts). */
  dynamic?: Dynamic;
}

export interface ArgumentSpec {
  name: string;
  description: string;
  variadic: boolean;
  choices?: readonly string[];
  dynamic?: Dynamic;
}



export interface CommandSpec {
  /** Words after the program name: [] for nbatch itself, ["config", "set"]. */
  path: string[];
  description: string;
  subcommands: { name: string; description: string }[];
  options: OptionSpec[];
  args: ArgumentSpec[];
}

const HELP: OptionSpec = { names: ["-h", "--help"], description: "display help for command", takesValue: false };

/** Every command of the tree, parents before children. */
export function commandSpecs(root: Command, path: string[] = []): CommandSpec[] {
  const spec: CommandSpec = {
    path,
    description: root.description(),
    subcommands: root.commands.filter(isListed).map((c) => ({ name: c.name(), description: c.description() })),
    options: [
      ...root.options
        .filter((o) => !o.hidden)
        .map((o) => ({
          names: [o.short, o.long].filter((n): n is string => Boolean(n)),
          description: o.description,
          takesValue: o.required || o.optional,
          ...withChoices(o.argChoices ?? offeredChoices(o)),
          ...withDynamic(dynamicOf(o, /<([^>]+)>/.exec(o.flags)?.[1] ?? "")),
        })),
      HELP,
    ],
    args: root.registeredArguments.map((a) => ({
      name: a.name(),
      description: a.description,
      variadic: a.variadic,
      ...withChoices(a.argChoices ?? offeredChoices(a)),
      ...withDynamic(dynamicOf(a, a.name())),
    })),
  };
  return [spec, ...root.commands.filter(isListed).flatMap((c) => commandSpecs(c, [...path, c.name()]))];
}

const withChoices = (choices: readonly string[] | undefined) => (choices ? { choices } : {});
const withDynamic = (dynamic: Dynamic | undefined) => (dynamic ? { dynamic } : {});

/** A word in single quotes, for any of the three shells. */
export function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

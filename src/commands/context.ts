import type { Command } from "commander";
import type { IO } from "../ui/io.js";

/** What every command gets from cli.ts: the only place that reads process state. */
export interface CommandContext {
  io: IO;
  env: Readonly<Record<string, string | undefined>>;
  /** Records the exit code of the command that ran. */
  setExit(code: number): void;
}

/**
 * A command's commander definition. It only parses: its action lazy-loads
 * the command's run.ts, so `nbatch --help` never loads the AWS SDK.
 */
export type CommandDefinition = (ctx: CommandContext) => Command;

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[]) => [...previous, value];

import type { Command } from "commander";
import type { Clock } from "../clock.js";
import type { Output } from "../ui/output.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** The signals a command may react to: the process, or a test's emitter. */
export type Signals = Pick<NodeJS.EventEmitter, "on" | "off" | "once">;

/**
 * What every command gets: its output, a copy of the environment, the
 * working directory, the clock and the signals. src/process.ts makes the
 * real one, the only place that reads the process's state; tests make
 * their own.
 */
export interface CommandContext {
  out: Output;
  env: Env;
  cwd: string;
  clock: Clock;
  signals: Signals;
  /** How to start this same nbatch as a process: [node, bin/nbatch.js]. */
  self: readonly string[];
}

/**
 * A command's commander definition. It only parses: its action lazy-loads
 * the command's run.ts, so `nbatch --help` never loads the AWS SDK. The
 * action's exit code goes to ctx.out.
 */
export type CommandDefinition = (ctx: CommandContext) => Command;

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[]) => [...previous, value];

/** Whether a command is listed: not one for the completion scripts' own use (`nbatch __complete`). Commander keeps this private. */
export const isListed = (command: Command) => !(command as unknown as { _hidden?: boolean })._hidden;

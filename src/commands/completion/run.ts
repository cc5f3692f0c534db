import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { SETTING_ROWS } from "../../config/table.js";
import { listRuns } from "../../history.js";
import { RECENT_JOBS, type Dynamic } from "./values.js";
import { bashScript } from "./bash.js";
import { fishScript } from "./fish.js";
import { commandSpecs } from "./spec.js";
import { zshScript } from "./zsh.js";

const GENERATORS = { bash: bashScript, zsh: zshScript, fish: fishScript };

/** `nbatch completion SHELL`: the script for the whole program, from its commander tree. */
export function completionRun(shell: keyof typeof GENERATORS, program: Command, ctx: CommandContext): number {
  ctx.out.document(GENERATORS[shell](commandSpecs(program)));
  return 0;
}

/** The values for a completion script; nothing at all when they cannot be had, since a shell is waiting. */
export async function completeValuesRun(kind: Dynamic, word: string | undefined, ctx: CommandContext): Promise<number> {
  const values =
    kind === "jobs"
      ? await listRuns(ctx.env, { limit: RECENT_JOBS }).then((runs) => runs.map((r) => r.jobId), () => [])
      : (SETTING_ROWS.find((row) => row.name === word)?.choices ?? []);
  for (const value of values) ctx.out.out(value);
  return 0;
}

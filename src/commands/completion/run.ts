import type { Command } from "commander";
import type { CommandContext } from "../context.js";
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

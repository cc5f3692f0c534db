/**
 * Values a completion script asks nbatch for as it completes, since they are
 * not known when the script is made: recent job ids, from the run history,
 * and the values of the setting being set. A `<job-id>` argument or option
 * completes job ids without being marked; anything else is marked here.
 */
import type { Argument, Option } from "commander";

export type Dynamic = "jobs" | "setting-values";

const marked = new WeakMap<Argument | Option, Dynamic>();
const offered = new WeakMap<Argument | Option, readonly string[]>();

/**
 * Values completion offers for what checks its own values (a setting, whose
 * parser says what is wrong in nbatch's one line), where commander's choices
 * would answer a typo in a format of its own.
 */
export function offerChoices<T extends Argument | Option>(target: T, choices: readonly string[]): T {
  offered.set(target, choices);
  return target;
}

export function offeredChoices(target: Argument | Option): readonly string[] | undefined {
  return offered.get(target);
}

export function completeWith<T extends Argument | Option>(target: T, kind: Dynamic): T {
  marked.set(target, kind);
  return target;
}

/** What completes a value named `name` (an argument's name, an option's <placeholder>). */
export function dynamicOf(target: Argument | Option, name: string): Dynamic | undefined {
  return marked.get(target) ?? (name === "job-id" ? "jobs" : undefined);
}

/** How many recent job ids are offered. */
export const RECENT_JOBS = 30;

import { formatDuration } from "./format.js";

/** One stage of a run and how long it took; undefined when it did not happen or is not known. */
export type Stage = [name: string, ms: number | undefined];

/** The line -v ends a run with: "Took: upload 2.1 s, wait 35.0 s, run 3.2 minutes, download 0.4 s". */
export function stagesLine(stages: readonly Stage[]): string | undefined {
  const known = stages.filter((s): s is [string, number] => s[1] !== undefined && s[1] >= 0);
  if (!known.length) return undefined;
  return `Took: ${known.map(([name, ms]) => `${name} ${ms < 90_000 ? `${(ms / 1000).toFixed(1)} s` : formatDuration(ms)}`).join(", ")}`;
}

import type { PlannedEntry } from "../archive/entries.js";
import { statEntry } from "./manifest.js";

/**
 * A directory of the job's where a file or symlink stands here (the job
 * replaced a file by a directory, or one appeared meanwhile): nbatch never
 * removes a local file, so the job's directory and everything under it land
 * beside it, under `<path>.<tag>`, as an edited file's version does.
 * Planned entries are sorted parents first; their paths are rewritten.
 */
export async function besideClashingDirs(root: string, planned: PlannedEntry[], tag: string, onMoved: (path: string, savedAs: string) => void): Promise<void> {
  const moved: [from: string, to: string][] = [];
  for (const p of planned) {
    const under = moved.find(([from]) => p.path.startsWith(`${from}/`));
    if (under) {
      p.path = under[1] + p.path.slice(under[0].length);
      continue;
    }
    if (p.type !== "dir") continue;
    const local = await statEntry(root, p.path).catch(() => undefined);
    if (!local || local.type === "dir") continue;
    const to = `${p.path}.${tag}`;
    moved.push([p.path, to]);
    onMoved(p.path, to);
    p.path = to;
  }
}

import type { PlannedEntry } from "../archive/entries.js";
import { statEntry, type ManifestEntry } from "./manifest.js";

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

/** A fan-out run's record of which task wrote which paths (job/fanout/claims.ts), as one task's results are applied. */
export interface Claims {
  /** The task whose results are being applied. */
  readonly index: number;
  /** The task of this run that wrote the local file, if one did and the file is still as it wrote it. */
  holder(path: string, local: ManifestEntry): number | undefined;
  /** Where a task's version of a path goes when another task keeps the path. */
  beside(path: string, index: number): string;
  /** This task now holds the path, as written. */
  take(path: string, written: Pick<ManifestEntry, "size" | "mtimeMs">): void;
}

/** Where a fan-out task's version of a path goes: the lowest task keeps the path, the other is saved beside it. */
export function settle(claims: Claims, path: string, holder: number): { dest: string; displaced?: string; kept: number } {
  if (claims.index < holder) return { dest: path, displaced: claims.beside(path, holder), kept: claims.index };
  return { dest: claims.beside(path, claims.index), kept: holder };
}

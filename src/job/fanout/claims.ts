/**
 * Which task of a run wrote each path it brought home, so two tasks that
 * wrote the same path with different contents settle it the same way
 * whatever order they finish in: the lowest task index keeps the path, and
 * every other version goes beside it as <name>.nbatch-<run8>-<index>.
 * Identical contents are no conflict. A path is remembered with the size
 * and time it was written with, so a local edit made meanwhile is not
 * mistaken for a task's (it is kept, as always). About 100 bytes a path.
 */
import type { Claims } from "../../tree/beside.js";

export class RunClaims {
  private readonly held = new Map<string, [index: number, size: number, mtimeMs: number]>();

  constructor(private readonly run8: string) {}

  /** The claims of one task's results. */
  forTask(index: number): Claims {
    return {
      index,
      holder: (path, local) => {
        const h = this.held.get(path);
        return h && local.size === h[1] && local.mtimeMs === h[2] ? h[0] : undefined;
      },
      beside: (path, i) => `${path}.nbatch-${this.run8}-${i}`,
      take: (path, written) => void this.held.set(path, [index, written.size, written.mtimeMs]),
    };
  }
}

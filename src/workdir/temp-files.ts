import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/**
 * Files being written are named .nbatch-tmp-<pid>-<random> beside their
 * target, then renamed into place. A download killed with SIGKILL leaves
 * them behind; the next one removes those whose process is gone.
 */
const PREFIX = ".nbatch-tmp-";

export function tempBeside(dest: string): string {
  return join(dirname(dest), `${PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes stale temp files in the given directories (relative to root); missing ones are skipped. */
export async function sweepStaleTemps(root: string, dirs: Iterable<string>): Promise<void> {
  for (const dir of new Set(dirs)) {
    const names = await readdir(join(root, dir)).catch(() => [] as string[]);
    for (const name of names) {
      const m = /^\.nbatch-tmp-(\d+)-[0-9a-f]+$/.exec(name);
      if (m && !alive(Number(m[1]))) await rm(join(root, dir, name), { force: true });
    }
  }
}

/**
 * Runs fn with a fresh directory under the OS temp dir, named
 * nbatch-<kind>-<pid>-..., and removes it after. Directories left by a
 * process that was killed (its pid is gone) are removed first.
 */
export async function withTempDir<T>(kind: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const base = tmpdir();
  const stale = new RegExp(`^nbatch-${kind}-(\\d+)-`);
  for (const name of await readdir(base).catch(() => [] as string[])) {
    const m = stale.exec(name);
    if (m && !alive(Number(m[1]))) await rm(join(base, name), { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(base, `nbatch-${kind}-${process.pid}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

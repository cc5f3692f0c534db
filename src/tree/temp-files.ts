import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstat, mkdtemp, readdir, realpath, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { isInside } from "./paths.js";

/**
 * Files being written are named .nbatch-tmp-<pid>-<random> beside their
 * target, then renamed into place. A download killed with SIGKILL leaves
 * them behind; the next one removes those whose process is gone.
 */
const PREFIX = ".nbatch-tmp-";

export function tempBeside(dest: string): string {
  return join(dirname(dest), `${PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
}

/**
 * Fills a temporary file beside dest, then renames it over dest: a crash, a
 * full disk or a failed check leaves the old file or the new one, never half
 * of one, and no temporary file once fill has failed.
 */
export async function replaceFile<T>(dest: string, fill: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = tempBeside(dest);
  try {
    const result = await fill(tmp);
    await rename(tmp, dest);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes stale temp files in the given directories (relative to root).
 * Directories that are missing, or that lead out of root through a
 * symlink, are skipped; a file we may not remove is left alone.
 */
export async function sweepStaleTemps(root: string, dirs: Iterable<string>): Promise<void> {
  for (const dir of new Set(dirs)) {
    const real = await realpath(join(root, dir)).catch(() => undefined);
    if (!real || !isInside(root, real)) continue;
    for (const name of await readdir(real).catch(() => [] as string[])) {
      const m = /^\.nbatch-tmp-(\d+)-[0-9a-f]+$/.exec(name);
      if (m && !alive(Number(m[1]))) await rm(join(real, name), { force: true }).catch(() => undefined);
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
  const uid = process.getuid?.();
  for (const name of await readdir(base).catch(() => [] as string[])) {
    const m = stale.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    // In a shared /tmp, other people's leftovers are theirs to remove.
    const owner = await lstat(join(base, name)).then((st) => st.uid, () => undefined);
    if (owner === uid) await removeTree(join(base, name)).catch(() => undefined);
  }
  const dir = await mkdtemp(join(base, `nbatch-${kind}-${process.pid}-`));
  try {
    return await fn(dir);
  } finally {
    // What is left (it cannot be, as a rule) goes with the next run's sweep; it must not fail this one.
    await removeTree(dir).catch(() => undefined);
  }
}

/**
 * rm -r with the system's rm, which walks a tree one directory at a time:
 * Node's recursive rm starts on every directory at once and held 330 MB
 * for a job directory of 200,000 files; it also gives up with
 * ENAMETOOLONG on trees deeper than a path can spell (a job may make one).
 * Node's rm stands in only where rm cannot be run.
 */
export async function removeTree(dir: string): Promise<void> {
  // Its complaints (one a path it may not remove) are not kept: a tree of them would fill any buffer.
  const ran = await new Promise<boolean>((resolve, reject) => {
    const rmTree = spawn("rm", ["-rf", "--", dir], { stdio: "ignore" });
    rmTree.once("error", (err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? resolve(false) : reject(err)));
    rmTree.once("exit", (code, signal) => (code === 0 ? resolve(true) : reject(new Error(`rm -rf ${dir} failed (${signal ?? `exit ${code}`})`))));
  });
  if (!ran) await rm(dir, { recursive: true, force: true });
}

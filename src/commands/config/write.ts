import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** The file's text, or "" when it does not exist yet. */
export async function readText(path: string): Promise<string> {
  return readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? "" : Promise.reject(err)));
}

/**
 * Replaces the file's content all at once: a crash or a full disk leaves the
 * old file, never half of the new one. A symlinked config (a dotfiles
 * repository) stays a symlink: its target is what gets replaced.
 */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const target = await realpath(path).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? path : Promise.reject(err)));
  await mkdir(dirname(target), { recursive: true });
  // An existing file keeps its mode; a new one gets the umask's, like any file the user creates.
  const mode = await stat(target).then((s) => s.mode & 0o777, () => undefined);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temp, text);
    if (mode !== undefined) await chmod(temp, mode);
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

import { chmod, mkdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { replaceFile } from "../../tree/temp-files.js";

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
  await replaceFile(target, async (temp) => {
    await writeFile(temp, text);
    if (mode !== undefined) await chmod(temp, mode);
  });
}

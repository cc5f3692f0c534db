import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UsageError, UserError } from "../../errors.js";
import { ENV_NAME } from "./parse.js";

/** An environment value is a line or a key, not a data file: past this, the file is something else. */
const MAX_VALUE_BYTES = 1024 * 1024;

/**
 * --envdir DIR: each file in DIR is one variable, named by the file, its
 * value the file's contents less one trailing newline (what `echo "$X" > X`
 * adds). Hidden files (editor leftovers, .DS_Store) are not variables.
 * Later directories win over earlier ones, as later --env values do.
 */
export async function readEnvDirs(dirs: readonly string[], cwd: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dir of dirs) {
    const path = resolve(cwd, dir);
    const names = await readdir(path).catch((err: NodeJS.ErrnoException) => {
      throw new UserError(`--envdir ${dir}: ${err.code === "ENOENT" ? "no such directory" : err.code === "ENOTDIR" ? "not a directory" : `cannot read it (${err.code ?? err.message})`}`);
    });
    for (const name of names.sort()) {
      if (name.startsWith(".")) continue;
      if (!ENV_NAME.test(name)) throw new UsageError(`--envdir ${dir}: "${name}" is not a valid variable name (letters, digits and _, not starting with a digit): rename it, or move it out`);
      const file = join(path, name);
      const info = await stat(file);
      if (!info.isFile()) throw new UsageError(`--envdir ${dir}: ${name} is not a regular file: each variable is a file whose contents are its value`);
      if (info.size > MAX_VALUE_BYTES) throw new UsageError(`--envdir ${dir}: ${name} is ${info.size} bytes, too large for an environment value (at most 1 MiB)`);
      out[name] = valueOf(await readFile(file), `--envdir ${dir}: ${name}`).replace(/\r?\n$/, "");
    }
  }
  return out;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The value travels as JSON text and lands in a process's environment: UTF-8, without NUL bytes. */
function valueOf(bytes: Buffer, what: string): string {
  if (bytes.includes(0)) throw new UsageError(`${what} holds a NUL byte, which no environment value can carry: put text in it, or move it out`);
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new UsageError(`${what} is not UTF-8 text, which an environment value must be here: put text in it, or move it out`);
  }
}

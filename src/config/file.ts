/**
 * Locating and reading the ini config file (config/ini.ts). Each line is
 * checked: a typo must be reported with its line number, not silently
 * ignored.
 */
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { UserError } from "../errors.js";
import { iniSections, parseIni, type IniLine } from "./ini.js";
import { SETTING_ROWS, type SettingRow } from "./table.js";

export type Env = Readonly<Record<string, string | undefined>>;
export type ConfigFile = Record<string, Record<string, string>>;

/** An environment variable, with empty meaning unset. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

export function homeDir(env: Env): string {
  return envValue(env, "HOME") ?? homedir();
}

/** $NBATCH_CONFIG, else $XDG_CONFIG_HOME/nbatch/config, else ~/.config/nbatch/config. */
export function configPath(env: Env): string {
  const explicit = envValue(env, "NBATCH_CONFIG");
  if (explicit) return explicit;
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = envValue(env, "XDG_CONFIG_HOME");
  const base = xdg && isAbsolute(xdg) ? xdg : join(homeDir(env), ".config");
  return join(base, "nbatch", "config");
}

/** $XDG_CACHE_HOME/nbatch, else ~/.cache/nbatch: what nbatch keeps to go faster, safe to delete. */
export function cacheDir(env: Env): string {
  const xdg = envValue(env, "XDG_CACHE_HOME");
  return join(xdg && isAbsolute(xdg) ? xdg : join(homeDir(env), ".cache"), "nbatch");
}

/** A path as the user would write it: ~/... under the home directory. */
export function displayPath(path: string, env: Env): string {
  const home = homeDir(env);
  return path.startsWith(home + "/") ? "~" + path.slice(home.length) : path;
}

/** Past this, a "config file" is something else (/dev/zero, a log named by mistake). */
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ReadOptions {
  /** How to get past an unreadable file. */
  fix?: string;
  /** Why a setting may not be set in this file; undefined when it may. */
  refuse?: (row: SettingRow) => string | undefined;
}

/** The file's sections, or undefined when it does not exist. */
export function readConfigFile(path: string, env: Env = {}, o: ReadOptions = {}): ConfigFile | undefined {
  const shown = displayPath(path, env);
  const text = readSmallTextFile(path, shown, o.fix ?? "set NBATCH_CONFIG to another file");
  if (text === undefined) return undefined;
  const lines = parseIni(text);
  checkLines(lines, shown, o.refuse);
  const out: ConfigFile = {};
  for (const [name, values] of iniSections(lines)) out[name] = Object.fromEntries(values);
  return out;
}

/**
 * A settings file's text; undefined when it does not exist. Only a regular
 * file of sane size is read: a FIFO would hang, /dev/zero would fill memory.
 */
export function readSmallTextFile(path: string, shown: string, fix: string): string | undefined {
  let info;
  try {
    info = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new UserError(`cannot read ${shown} (${code ?? String(err)}): fix its permissions or ${fix}`, { cause: err });
  }
  if (!info.isFile()) throw new UserError(`${shown} is not a regular file: ${fix}`);
  if (info.size > MAX_CONFIG_BYTES) throw new UserError(`${shown} is ${info.size} bytes, too large for a settings file (at most 1 MiB): ${fix}`);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${shown} (${code ?? String(err)}): fix its permissions or ${fix}`, { cause: err });
  }
}

function checkLines(lines: readonly IniLine[], shownPath: string, refuse: ReadOptions["refuse"]): void {
  const seen = new Map<string, number>();
  for (const line of lines) {
    const where = `${shownPath} line ${line.index + 1}`;
    if (line.kind === "blank" || line.kind === "comment") continue;
    if (line.kind === "section") {
      if (!KNOWN.has(line.section!)) throw new UserError(`${where}: unknown section [${line.section}]; nbatch reads [${[...KNOWN.keys()].join("], [")}]`);
    } else if (line.kind === "other" || line.parent) {
      throw new UserError(`${where}: expected \`key = value\` or \`[section]\`, found ${JSON.stringify(line.text.trim())}`);
    } else if (line.section === undefined) {
      throw new UserError(`${where}: \`${line.text.trim()}\` comes before any [section]; put it under [core] or [aws-batch]`);
    } else {
      // A typo such as `memroy` must not silently leave the job at its default size.
      const keys = KNOWN.get(line.section)!;
      if (!keys.has(line.key!)) throw new UserError(`${where}: unknown key "${line.key}" in [${line.section}]; known keys: ${[...keys].join(", ")}`);
      const name = `${line.section}.${line.key}`;
      const refused = refuse?.(SETTING_ROWS.find((row) => row.name === name)!);
      if (refused) throw new UserError(`${where}: ${refused}`);
      const first = seen.get(name);
      if (first !== undefined) throw new UserError(`${where}: ${line.key} is set again in [${line.section}] (first on line ${first + 1}): keep one`);
      seen.set(name, line.index);
    }
  }
}

/** The sections and keys of the settings table. */
const KNOWN = SETTING_ROWS.reduce((m, row) => m.set(row.section, (m.get(row.section) ?? new Set()).add(row.key)), new Map<string, Set<string>>());

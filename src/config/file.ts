/**
 * Locating and reading the ini config file. The ini package accepts almost
 * anything, so each line is checked first: a typo must be reported with its
 * line number, not silently ignored.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { decode } from "ini";
import { UserError } from "../errors.js";
import { SETTING_ROWS } from "./table.js";

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

/** A path as the user would write it: ~/... under the home directory. */
export function displayPath(path: string, env: Env): string {
  const home = homeDir(env);
  return path.startsWith(home + "/") ? "~" + path.slice(home.length) : path;
}

const BLANK_OR_COMMENT = /^\s*([;#].*)?$/;
const SECTION = /^\s*\[[^\]]+\]\s*([;#].*)?$/;
const KEY_VALUE = /^\s*[A-Za-z0-9][\w.-]*\s*=/;

/** The file's sections, or undefined when it does not exist. */
export function readConfigFile(path: string, env: Env = {}): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new UserError(
      `cannot read config file ${displayPath(path, env)} (${code ?? String(err)}): fix its permissions or set NBATCH_CONFIG to another file`,
      { cause: err },
    );
  }
  checkLines(text, displayPath(path, env));
  return sections(decode(text));
}

function checkLines(text: string, shownPath: string): void {
  let section: string | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    const where = `${shownPath} line ${i + 1}`;
    if (BLANK_OR_COMMENT.test(line)) return;
    if (SECTION.test(line)) {
      section = /\[([^\]]+)\]/.exec(line)![1]!.trim();
      if (!KNOWN.has(section)) throw new UserError(`${where}: unknown section [${section}]; nbatch reads [${[...KNOWN.keys()].join("] and [")}]`);
    } else if (!KEY_VALUE.test(line)) {
      throw new UserError(`${where}: expected \`key = value\` or \`[section]\`, found ${JSON.stringify(line.trim())}`);
    } else if (section === undefined) {
      throw new UserError(`${where}: \`${line.trim()}\` comes before any [section]; put it under [core] or [aws-batch]`);
    } else {
      // A typo such as `memroy` must not silently leave the job at its default size.
      const key = line.slice(0, line.indexOf("=")).trim();
      const keys = KNOWN.get(section)!;
      if (!keys.has(key)) throw new UserError(`${where}: unknown key "${key}" in [${section}]; known keys: ${[...keys].join(", ")}`);
    }
  });
}

/** The sections and keys of the settings table. */
const KNOWN = SETTING_ROWS.reduce((m, row) => m.set(row.section, (m.get(row.section) ?? new Set()).add(row.key)), new Map<string, Set<string>>());

/** Keeps only flat sections, with every value as the text the user wrote. */
function sections(decoded: Record<string, unknown>): ConfigFile {
  const out: ConfigFile = {};
  for (const [name, body] of Object.entries(decoded)) {
    if (typeof body !== "object" || body === null) continue;
    out[name] = {};
    for (const [key, value] of Object.entries(body)) {
      // ini turns "true", "false" and "null" into non-strings; give them back as written.
      if (typeof value !== "object" || value === null) out[name][key] = String(value);
    }
  }
  return out;
}

/**
 * Edits one key of an ini file's text, keeping every other line (comments,
 * blank lines, order, other sections) as the user wrote it.
 */
import { parseIni, quoteValue } from "./ini.js";

interface Location {
  /** Line indexes of key = ... lines of the key in the section. */
  keys: number[];
  /** The index after the last entry of the section's last occurrence, or undefined without the section. */
  end?: number;
}

function locate(text: string, section: string, key: string): Location {
  const found: Location = { keys: [] };
  for (const line of parseIni(text)) {
    if (line.section !== section || (line.kind !== "section" && line.kind !== "entry")) continue;
    found.end = line.index + 1;
    if (line.kind === "entry" && line.key === key && !line.parent) found.keys.push(line.index);
  }
  return found;
}

const splitLines = (text: string) => (text === "" ? [] : text.replace(/\r?\n$/, "").split(/\r?\n/));
const joinLines = (lines: string[], eol: string) => (lines.length ? lines.join(eol) + eol : "");
const eolOf = (text: string) => (text.includes("\r\n") ? "\r\n" : "\n");

/** Sets section.key: the last existing line is rewritten in place (the one that counts), else a line is added. */
export function setKey(text: string, section: string, key: string, value: string): string {
  const lines = splitLines(text);
  const { keys, end } = locate(text, section, key);
  const entry = `${key} = ${quoteValue(value)}`;
  const last = keys.at(-1);
  if (last !== undefined) {
    const indent = /^\s*/.exec(lines[last]!)![0];
    lines[last] = indent + entry;
  } else if (end !== undefined) {
    lines.splice(end, 0, entry);
  } else {
    if (lines.length && lines.at(-1)!.trim() !== "") lines.push("");
    lines.push(`[${section}]`, entry);
  }
  return joinLines(lines, eolOf(text));
}

/** Removes every line of section.key; undefined when there was none. */
export function unsetKey(text: string, section: string, key: string): string | undefined {
  const lines = splitLines(text);
  const { keys } = locate(text, section, key);
  if (!keys.length) return undefined;
  return joinLines(lines.filter((_, i) => !keys.includes(i)), eolOf(text));
}

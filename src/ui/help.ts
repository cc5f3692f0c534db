/**
 * How commander's help is laid out: at the terminal's width (COLUMNS, else
 * the terminal's, else 80), wrapped at spaces only, and with a term too wide
 * for its column on a line of its own, so a long flag such as
 * --aws-batch-s3-bucket-owner <account-id> never squeezes every description
 * into a sliver that the terminal then breaks mid-word.
 */
import { Help, type HelpConfiguration, type Option } from "commander";

const INDENT = 2;
const GAP = 2;
/** Narrower than this, a description goes under its term rather than beside it. */
const MIN_DESCRIPTION = 28;

export function helpConfiguration(columns: number): HelpConfiguration {
  return { helpWidth: columns, minWidthToWrap: 10, formatItem, optionDescription };
}

/** The width help is laid out at: COLUMNS when it is a sane number, else the terminal's, else 80. */
export function helpColumns(env: Readonly<Record<string, string | undefined>>, terminal: number | undefined): number {
  const fromEnv = Number(env.COLUMNS);
  const width = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : (terminal ?? 80);
  return Math.max(40, Math.min(width, 200));
}

/**
 * The prose a command adds after its help, wrapped at spaces to the same
 * width: a paragraph (unindented lines) with a line too long is joined and
 * wrapped again. Indented lines (examples, commands to copy) stay as they are.
 */
export function wrapProse(text: string, columns: number): string {
  const help = new Help();
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    out.push(paragraph.some((l) => l.length > columns) ? help.boxWrap(paragraph.join(" "), columns) : paragraph.join("\n"));
    paragraph = [];
  };
  for (const line of text.split("\n")) {
    if (/^\S/.test(line)) paragraph.push(line);
    else {
      if (paragraph.length) flush();
      out.push(line);
    }
  }
  if (paragraph.length) flush();
  return out.join("\n");
}

function formatItem(this: Help, term: string, termWidth: number, description: string, helper: Help): string {
  const width = this.helpWidth ?? 80;
  const indent = " ".repeat(INDENT);
  if (!description) return indent + term;
  // The term column takes at most two fifths of the width; longer terms stand alone.
  const column = Math.min(termWidth, Math.floor(width * 0.4));
  const room = width - INDENT - column - GAP;
  const beside = room >= MIN_DESCRIPTION;
  const at = beside ? INDENT + column + GAP : INDENT * 3;
  const text = helper.boxWrap(description, width - at).replace(/\n/g, `\n${" ".repeat(at)}`);
  if (beside && term.length <= column) return indent + term.padEnd(column + GAP) + text;
  return `${indent}${term}\n${" ".repeat(at)}${text}`;
}

/** Commander's option help, without "(default: [])" on repeatable options: an empty list says nothing. */
function optionDescription(this: Help, option: Option): string {
  const empty = Array.isArray(option.defaultValue) && option.defaultValue.length === 0;
  return Help.prototype.optionDescription.call(this, empty ? Object.assign(Object.create(option) as Option, { defaultValue: undefined }) : option);
}

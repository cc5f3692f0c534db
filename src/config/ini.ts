/**
 * The one ini grammar nbatch reads and edits: its own config file and the
 * AWS config file. Lines are kept as they are, so an editor can change one
 * and leave the rest (comments, blank lines, order) as the user wrote it.
 *
 * - `[section]`; inner spaces fold ("[profile  lab]" is "profile lab"), and
 *   dots are part of the name ("[profile my.team]"), unlike the ini package's;
 * - `key = value`; a `;` or `#` after a space starts a comment, and a value
 *   in double quotes is a JSON string (how nbatch writes a value that has
 *   comment characters or quotes of its own);
 * - with `nested` (the AWS config file), an indented `key = value` belongs to
 *   the unindented key above it (`s3 =` then `  endpoint_url = ...`);
 * - lines starting with `;` or `#` are comments; a UTF-8 byte order mark is
 *   ignored.
 *
 * The ini package does not fit (docs/configuration.md): it splits section
 * names at dots, takes a `#` anywhere for a comment, and cannot keep lines.
 */

export interface IniLine {
  /** 0-based line number. */
  index: number;
  text: string;
  kind: "blank" | "comment" | "section" | "entry" | "other";
  /** The section the line is in (for a section line, its own name). */
  section?: string;
  key?: string;
  value?: string;
  /** For an indented entry: the key it is nested under. */
  parent?: string;
}

const SECTION = /^\s*\[\s*([^\]]*?)\s*\]\s*(?:[;#].*)?$/;
const ENTRY = /^(\s*)([A-Za-z0-9][\w.-]*)\s*=\s*(.*)$/;

export function parseIni(text: string, o: { nested?: boolean } = {}): IniLine[] {
  let section: string | undefined;
  let parent: string | undefined;
  return text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .map((line, index): IniLine => {
      if (/^\s*$/.test(line)) return { index, text: line, kind: "blank", section };
      if (/^\s*[;#]/.test(line)) return { index, text: line, kind: "comment", section };
      const header = SECTION.exec(line);
      if (header) {
        section = header[1]!.replace(/\s+/g, " ");
        parent = undefined;
        return { index, text: line, kind: "section", section };
      }
      const entry = ENTRY.exec(line);
      if (!entry) return { index, text: line, kind: "other", section };
      const [, indent, key, raw] = entry as unknown as [string, string, string, string];
      const nested = Boolean(o.nested) && indent.length > 0 && parent !== undefined;
      if (!nested) parent = key;
      return { index, text: line, kind: "entry", section, key, value: unquote(raw), ...(nested ? { parent } : {}) };
    });
}

/** A value as the user meant it: comments after a space cut; a double-quoted value read as the JSON string it is. */
function unquote(raw: string): string {
  const quoted = /^("(?:[^"\\]|\\.)*")\s*(?:[;#].*)?$/.exec(raw);
  if (quoted) {
    try {
      return JSON.parse(quoted[1]!) as string;
    } catch {
      // Not valid JSON: the quotes are part of the value.
    }
  }
  return raw.replace(/\s+[;#].*$/, "").trim();
}

/** A value as a line of the file: as it is when it reads back as itself, else a JSON string. */
export function quoteValue(value: string): string {
  return unquote(value) === value ? value : JSON.stringify(value);
}

/** The top-level `key = value` pairs of each section (nested ones under their parent's name, as `parent.key`). */
export function iniSections(lines: readonly IniLine[]): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  for (const l of lines) {
    if (l.section === undefined || (l.kind !== "entry" && l.kind !== "section")) continue;
    const values = sections.get(l.section) ?? new Map<string, string>();
    sections.set(l.section, values);
    if (l.kind === "entry") values.set(l.parent ? `${l.parent}.${l.key}` : l.key!, l.value!);
  }
  return sections;
}
